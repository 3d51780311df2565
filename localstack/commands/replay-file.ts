/**
 * What `driftline replay` checks of a local file before anything is uploaded: which analysis reads
 * it, that it can be read, and that it looks like that analysis' data — so that a wrong file is
 * refused on the spot with a sentence, not found minutes later as a refused replay or as rows all
 * rejected in data_dead.
 */
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { allAnalyses } from '../../shared/analyses/registry.ts';
import { type AnyAnalysis, ObjectFormatError, type RecordInput } from '../../shared/core/analysis.ts';
import { fileReadError, knownAnalysis, UsageError } from './usage-error.ts';

/** Bytes read to look at a file's first rows (of a `.gz`, fewer), and how many rows are looked at. */
const SNIFF_BYTES = 256 * 1024;
const SNIFF_GZIP_BYTES = 32 * 1024;
const SNIFF_ROWS = 200;

export interface CheckedFile {
  readonly path: string;
  /** The file's own name: the last segment of its object key. */
  readonly name: string;
  readonly size: number;
  readonly analysis: AnyAnalysis;
  /** True when the analysis was chosen from the file's extension. */
  readonly analysisGuessed: boolean;
  /** The analysis' reference data (sf's radio codes), not a dataset: uploaded to its own key. */
  readonly referenceKey: string | undefined;
}

function formatProblem(analysis: AnyAnalysis, name: string): string | undefined {
  try {
    analysis.replay.framerFor(name.replace(/\.gz$/i, ''));
    return undefined;
  } catch (error) {
    if (error instanceof ObjectFormatError) return error.message;
    throw error;
  }
}

/** The analysis asked for, or the first one that reads files with this extension. */
function chooseAnalysis(
  name: string,
  asked: string | undefined,
): { analysis: AnyAnalysis; guessed: boolean } {
  if (asked !== undefined) {
    const analysis = knownAnalysis(asked);
    const problem = formatProblem(analysis, name);
    if (problem !== undefined) throw new UsageError(`unsupported file: ${problem}`);
    return { analysis, guessed: false };
  }
  const problems: string[] = [];
  for (const analysis of allAnalyses()) {
    const problem = formatProblem(analysis, name);
    if (problem === undefined) return { analysis, guessed: true };
    problems.push(problem);
  }
  throw new UsageError(`unsupported file: no analysis reads it (${problems.join('; ')})`);
}

/** The file's first bytes, decompressed if it is `.gz` (a truncated stream decompresses as far as it goes). */
async function firstBytes(path: string, gzipped: boolean): Promise<Uint8Array> {
  const handle = await open(path, 'r').catch((error: unknown) => {
    throw fileReadError(path, error);
  });
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0).catch((error: unknown) => {
      throw fileReadError(path, error);
    });
    const head = buffer.subarray(0, bytesRead);
    if (!gzipped) return head;
    if (head[0] !== 0x1f || head[1] !== 0x8b) throw new UsageError(`${path}: named .gz but it is not gzip`);
    try {
      return gunzipSync(head.subarray(0, SNIFF_GZIP_BYTES), {
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: 16 * SNIFF_BYTES,
      });
    } catch (error) {
      // Only the first SNIFF_BYTES are looked at: an output limit is not a fault of the file.
      if (error instanceof RangeError) return new Uint8Array();
      throw new UsageError(
        `${path}: not a valid gzip file (${error instanceof Error ? error.message : error})`,
      );
    }
  } finally {
    await handle.close();
  }
}

/**
 * Whether the file's first rows are the analysis' rows: framed as replay frames them and folded as
 * aggregate folds them. Refused when every one of them is rejected (rows of another kind of file)
 * or the framing fails (e.g. a line longer than any row can be).
 */
function checkFirstRows(path: string, analysis: AnyAnalysis, name: string, head: Uint8Array): void {
  const { framer, wireFormat } = analysis.replay.framerFor(name.replace(/\.gz$/i, ''));
  let rows: Uint8Array[];
  try {
    // Only complete rows: the head usually ends inside one (and `end` would call it truncated).
    rows = framer.push(head).slice(0, SNIFF_ROWS);
  } catch (error) {
    if (error instanceof ObjectFormatError)
      throw new UsageError(`unsupported file ${path}: ${error.message}`);
    throw error;
  }
  if (rows.length === 0) return;
  const records: RecordInput[] = rows.map((value, index) => ({
    value,
    wireFormat,
    partition: 0,
    offset: String(index),
    timestampMs: Date.now(),
  }));
  const { rejections } = analysis.applyBatch(analysis.emptyState(), records);
  if (rejections.length < rows.length) return;
  const first = rejections[0];
  throw new UsageError(
    `unsupported file ${path}: none of its first ${rows.length} rows is a ${analysis.id} row` +
      (first ? ` (the first: ${first.reason}, ${first.detail})` : '') +
      otherAnalysesHint(analysis, name),
  );
}

/** `; another analysis? --analysis sfb` when other analyses read files of this kind. */
function otherAnalysesHint(analysis: AnyAnalysis, name: string): string {
  const others = allAnalyses().filter(
    (candidate) => candidate.id !== analysis.id && formatProblem(candidate, name) === undefined,
  );
  return others.length > 0
    ? `; another analysis? --analysis ${others.map((other) => other.id).join('|')}`
    : '';
}

/** Checks FILE for `driftline replay`; throws UsageError with the reason when it cannot be replayed. */
export async function checkReplayFile(path: string, askedAnalysis: string | undefined): Promise<CheckedFile> {
  // The analysis first: an unknown --analysis is wrong whatever the file.
  if (askedAnalysis !== undefined) knownAnalysis(askedAnalysis);
  const info = await stat(path).catch((error: unknown) => {
    throw fileReadError(path, error);
  });
  if (info.isDirectory()) throw new UsageError(`${path}: is a directory, not a dataset file`);
  if (!info.isFile()) throw new UsageError(`${path}: not a regular file`);
  const name = basename(path);
  const referenceAnalysis = allAnalyses().find(
    (analysis) =>
      (askedAnalysis === undefined || analysis.id === askedAnalysis) &&
      analysis.reference !== undefined &&
      basename(analysis.reference.objectKey) === name,
  );
  if (referenceAnalysis?.reference) {
    return {
      path,
      name,
      size: info.size,
      analysis: referenceAnalysis,
      analysisGuessed: askedAnalysis === undefined,
      referenceKey: referenceAnalysis.reference.objectKey,
    };
  }
  const { analysis, guessed } = chooseAnalysis(name, askedAnalysis);
  checkFirstRows(path, analysis, name, await firstBytes(path, /\.gz$/i.test(name)));
  return { path, name, size: info.size, analysis, analysisGuessed: guessed, referenceKey: undefined };
}
