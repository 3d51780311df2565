/**
 * `driftline analyze <analysis> <file> [--batch-rows N]`: runs an analysis over a local file offline,
 * batch by batch exactly as the pipeline folds it, and prints one JSON line per batch. The reference
 * answer for a dataset, with no broker or emulator involved.
 */
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { allAnalyses } from '../../shared/analyses/registry.ts';
import { analyzeOffline } from '../../shared/pipeline/offline-analysis.ts';
import { fileReadError, knownAnalysis, UsageError } from './usage-error.ts';

export const analyzeUsage = `Usage: driftline analyze <analysis> <file> [--batch-rows N]

Runs an analysis over a local dataset file the way the pipeline does (same framing, same reducer,
one record per row), with no broker or emulator, and prints one JSON line per batch on stdout:
  {"batch":1,"rows":…,"summary":{…},"cumulative":{…},"rejectedRows":…,"rejectedByReason":{…}}
  summary     what this batch contributed (the body of its data_clean message)
  cumulative  the rolling state after this batch (what the API serves)
A one-line run summary (rows, batches, rejected, rows/s) goes to stderr.

Arguments:
  <analysis>  ${allAnalyses()
    .map((analysis) => `${analysis.id} (${analysis.title})`)
    .join(', ')}
  <file>      the dataset, e.g. data.csv, data.txt, data.bin; any of them may be .gz

Options:
  --batch-rows N  cut the file into batches of N consecutive rows (default: the whole file is one
                  batch; every row of that batch is held in memory)
  -h, --help      this text

Example: driftline analyze dt run1.csv.gz --batch-rows 5000 | tail -n 1`;

export async function analyzeCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      'batch-rows': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(analyzeUsage);
    return 0;
  }
  const [analysisId, file, ...extra] = positionals;
  if (analysisId === undefined || file === undefined) {
    console.error(analyzeUsage);
    return 2;
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument(s): ${extra.join(' ')}`);
  const analysis = knownAnalysis(analysisId);
  const batchRows = values['batch-rows'] === undefined ? undefined : parseBatchRows(values['batch-rows']);
  await checkReadableFile(file);

  const batches = analyzeOffline({ analysis, fileName: file, bytes: readChunks(file), batchRows });
  const startedAt = performance.now();
  let rows = 0;
  let batchCount = 0;
  let rejected = 0;
  const output = new LineOutput(process.stdout);
  for await (const result of batches) {
    rows += result.rows;
    batchCount += 1;
    rejected += result.rejectedRows;
    if (!(await output.write(JSON.stringify(result)))) break;
  }
  const seconds = (performance.now() - startedAt) / 1000;
  console.error(
    `analyze ${analysis.id} ${file}: ${rows} rows in ${batchCount} batch${batchCount === 1 ? '' : 'es'}, ` +
      `${rejected} rejected, ${seconds.toFixed(2)} s (${formatRate(rows, seconds)})` +
      (output.closedEarly ? ' (stdout closed early: stopped)' : ''),
  );
  return 0;
}

function parseBatchRows(text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`--batch-rows must be a whole number of rows ≥ 1, got "${text}"`);
  }
  return value;
}

async function checkReadableFile(file: string): Promise<void> {
  const info = await stat(file).catch((error: unknown) => {
    throw fileReadError(file, error);
  });
  if (info.isDirectory()) throw new UsageError(`${file}: is a directory, not a dataset file`);
}

/** The file's bytes, opened only when the first chunk is asked for. */
async function* readChunks(file: string): AsyncGenerator<Uint8Array> {
  try {
    yield* createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>;
  } catch (error) {
    throw fileReadError(file, error);
  }
}

export function formatRate(rows: number, seconds: number): string {
  if (seconds <= 0) return '– rows/s';
  const rate = rows / seconds;
  return rate >= 10_000 ? `${Math.round(rate / 1000)}k rows/s` : `${Math.round(rate)} rows/s`;
}

/**
 * Lines to stdout with backpressure. A reader that goes away (`| head`) is not an error: writing
 * stops and `write` answers false. The error listener stays attached for the rest of the process,
 * since an EPIPE for the last lines can arrive after the loop has ended.
 */
class LineOutput {
  closedEarly = false;
  private readonly onError = (error: Error & { code?: string }) => {
    if (error.code === 'EPIPE') this.closedEarly = true;
    else throw error;
  };

  constructor(private readonly stream: NodeJS.WriteStream) {
    stream.on('error', this.onError);
  }

  async write(line: string): Promise<boolean> {
    if (this.closedEarly) return false;
    if (!this.stream.write(`${line}\n`)) {
      try {
        await once(this.stream, 'drain');
      } catch (error) {
        if (error instanceof Error && 'code' in error && error.code === 'EPIPE') this.closedEarly = true;
        else throw error;
      }
    }
    return !this.closedEarly;
  }
}
