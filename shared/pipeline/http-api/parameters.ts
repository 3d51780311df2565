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

/** Longest piece of a request (path, id, parameter name, method) an error message repeats. */
const ECHO_MAX_CHARACTERS = 100;

/** `text` for an error message: at most ~100 characters, and said so when cut (paths may be 200 KB). */
export function echo(text: string): string {
  if (text.length <= ECHO_MAX_CHARACTERS) return text;
  return `${text.slice(0, ECHO_MAX_CHARACTERS)}… (cut, ${text.length.toLocaleString('en-US')} characters)`;
}

/** Digits only: no sign, spaces, exponent, fraction, hex/octal/binary prefix, leading zero or empty value. */
const DECIMAL_INTEGER = /^(0|[1-9]\d{0,15})$/;

/**
 * A number parameter: a plain decimal integer in [min, max], nothing `Number()` would also take
 * (`0x1f4`, `6e1`, ` 60 `, or '' for 0). One message names the accepted form and the range.
 */
export function decimalInteger(min: number, max: number) {
  const expected = `expected a decimal integer from ${min} to ${max} (digits only)`;
  return z.string().transform((value, context) => {
    const number = DECIMAL_INTEGER.test(value) ? Number(value) : Number.NaN;
    if (number >= min && number <= max) return number;
    context.addIssue({ code: 'custom', message: expected });
    return z.NEVER;
  });
}

/** Validates query parameters: unknown names and bad values are a 400 naming the parameter. */
export function parseQuery<T extends z.ZodRawShape>(
  shape: T,
  query: QueryParameters,
): z.infer<z.ZodObject<T>> {
  const given = Object.entries(query).filter(([, value]) => value !== undefined);
  const unknown = given.map(([name]) => name).filter((name) => !Object.hasOwn(shape, name));
  if (unknown.length > 0) {
    const accepted = Object.keys(shape).join(', ') || 'none';
    throw new HttpError(
      400,
      `invalid parameter ${echo(unknown.join(', '))}: not a parameter of this resource (accepted: ${accepted})`,
    );
  }
  const result = z.object(shape).safeParse(Object.fromEntries(given));
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new HttpError(
    400,
    `invalid parameter ${issue?.path.join('.') || 'query'}: ${issue?.message ?? 'invalid'}`,
  );
}
