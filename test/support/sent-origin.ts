/** The origin (analysis, run, sequence, format) of a record a test saw replay send, from its headers. */
import { type RecordOrigin, readOrigin } from '../../shared/core/record-headers.ts';

export function sentOrigin(headers: Readonly<Record<string, string>> | undefined): RecordOrigin {
  const origin = readOrigin(new Map(Object.entries(headers ?? {})), { analysis: undefined, topic: 'test' });
  if ('error' in origin) throw new Error(`a sent record without a readable origin: ${origin.error}`);
  if (origin.sequence === undefined)
    throw new Error(`a sent record without a sequence: ${JSON.stringify(headers)}`);
  return origin;
}
