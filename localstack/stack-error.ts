/**
 * A problem the person running the stack can fix (Java missing, a port taken, Maven Central out of
 * reach): the CLI prints its message alone, without a stack trace.
 */
export class StackError extends Error {
  override readonly name = 'StackError';
}
