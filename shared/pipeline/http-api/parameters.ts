import { z } from 'zod';

/** A failure the client caused: answered with its status and message, never with internals. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export type QueryParameters = Readonly<Record<string, string | undefined>>;

/** Validates query parameters: unknown names and bad values are a 400 naming the parameter. */
export function parseQuery<T extends z.ZodRawShape>(
  shape: T,
  query: QueryParameters,
): z.infer<z.ZodObject<T>> {
  const result = z
    .strictObject(shape)
    .safeParse(Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined)));
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.join('.') || (issue && 'keys' in issue ? String(issue.keys) : 'query');
  throw new HttpError(400, `invalid parameter ${where}: ${issue?.message ?? 'invalid'}`);
}
