/**
 * What the user has to fix, as the commands say it: a `UsageError` is printed as its message alone
 * (cli.ts), without a stack. Defined once so every command refuses the same way.
 */
import { allAnalyses, analysisById } from '../../shared/analyses/registry.ts';
import type { AnyAnalysis } from '../../shared/core/analysis.ts';

/** A wrong argument or a file the user has to fix: the CLI prints the message alone. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The analysis called `id`, or a UsageError naming the known ones. */
export function knownAnalysis(id: string): AnyAnalysis {
  const analysis = analysisById(id);
  if (analysis) return analysis;
  const known = allAnalyses()
    .map((candidate) => candidate.id)
    .join(', ');
  throw new UsageError(`unknown analysis "${id}"; known analyses: ${known}`);
}

/** A file the system will not let us read is the user's to fix (one line); anything else is a fault. */
export function fileReadError(path: string, error: unknown): unknown {
  const code = error instanceof Error && 'code' in error ? String(error.code) : '';
  if (code === 'ENOENT') return new UsageError(`${path}: no such file`, { cause: error });
  if (['EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG'].includes(code)) {
    return new UsageError(`${path}: cannot read it (${code})`, { cause: error });
  }
  return error;
}
