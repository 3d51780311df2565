/**
 * `driftline generate <analysis> --rows N --out FILE`: writes a simulated dataset for an analysis.
 * Only `dt` has a generator so far (the drift-tube telescope simulator of shared/analyses/dt).
 *
 * The file is streamed with backpressure (the generator yields one chunk at a time and is pulled
 * only as fast as the file or pipe takes it), written under a temporary name and renamed at the
 * end, so an interrupted run never leaves a plausible-looking truncated dataset behind.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { createDtTruth, type DtTruth, generateDt } from '../../shared/analyses/dt/generator.ts';
import { analysisById } from '../../shared/analyses/registry.ts';
import { formatRate } from './analyze.ts';
import { UsageError } from './usage-error.ts';

export const generateUsage = `Usage: driftline generate dt --rows N --out FILE [--seed S] [--format csv|bin] [--gzip]
                              [--truth FILE]

Writes simulated drift-tube telescope data (cosmic muons, scintillator, noise, ancillary words; see
the dt spec) in the DAQ's CSV layout or as packed 64-bit words. The same options always give the
same bytes. Only the dt analysis has a generator so far.

Options:
  --rows N           data rows to write (the CSV header is not counted); required
  --out FILE         where to write; '-' for stdout; required
  --seed S           random seed, a whole number 0..4294967295 (default 1)
  --format csv|bin   default: from the name of --out (.bin or .bin.gz → bin, anything else → csv;
                     csv for stdout)
  --gzip             gzip the output; implied by an --out name ending in .gz, and a file name
                     must end in .gz with it (readers pick gunzip by the name)
  --truth FILE       also write the generator's truth as JSON (muons, hits per chamber, true drift
                     times), for physics checks
  -h, --help         this text

Progress (rows, rows/s) goes to stderr about once a second on long runs, then a final line with
rows, bytes and seconds.

Examples:
  driftline generate dt --rows 1300000 --out run1.csv
  driftline generate dt --rows 1300000 --seed 7 --out run7.bin.gz --truth run7.truth.json`;

type DtFormat = 'csv' | 'bin';

interface DtGenerateSettings {
  readonly rows: number;
  readonly seed: number;
  readonly format: DtFormat;
  readonly gzip: boolean;
  /** A path, or '-' for stdout. */
  readonly out: string;
  readonly truth: string | undefined;
}

const STDOUT = '-';
const MAX_SEED = 2 ** 32 - 1;
const PROGRESS_INTERVAL_MS = 1000;
/** Extensions the dt framer reads (before `.gz`). */
const DT_READABLE_EXTENSIONS = ['csv', 'txt', 'bin'];

/** The analyses that have a generator (the rest get a clear message). */
const GENERATORS: Readonly<Record<string, (options: ParsedOptions) => Promise<number>>> = {
  dt: (options) => generateDtFile(dtSettings(options)),
};

type ParsedOptions = ReturnType<typeof parseGenerateArgs>['values'];

function parseGenerateArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      rows: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string', short: 'o' },
      format: { type: 'string' },
      gzip: { type: 'boolean', default: false },
      truth: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

export async function generateCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseGenerateArgs(args);
  if (values.help) {
    console.log(generateUsage);
    return 0;
  }
  const [analysisId, ...extra] = positionals;
  if (analysisId === undefined) {
    console.error(generateUsage);
    return 2;
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument(s): ${extra.join(' ')}`);
  const generator = GENERATORS[analysisId];
  if (!generator) {
    const supported = Object.keys(GENERATORS).join(', ');
    throw new UsageError(
      analysisById(analysisId)
        ? `analysis "${analysisId}" has no generator yet; generate supports: ${supported}`
        : `unknown analysis "${analysisId}"; generate supports: ${supported}`,
    );
  }
  return generator(values);
}

// --- arguments ---------------------------------------------------------------------------------

function dtSettings(values: ParsedOptions): DtGenerateSettings {
  if (values.rows === undefined) throw new UsageError('--rows N is required (how many data rows to write)');
  if (values.out === undefined) throw new UsageError(`--out FILE is required ('-' for stdout)`);
  const rows = wholeNumber('--rows', values.rows, Number.MAX_SAFE_INTEGER);
  const seed = values.seed === undefined ? 1 : wholeNumber('--seed', values.seed, MAX_SEED);
  const out = values.out;
  if (out === '') throw new UsageError(`--out needs a file name ('-' for stdout)`);
  const toStdout = out === STDOUT;
  const nameGzipped = !toStdout && /\.gz$/i.test(out);
  if (values.gzip && !toStdout && !nameGzipped) {
    throw new UsageError(
      `--gzip writes compressed bytes, but '${out}' does not end in .gz and readers pick gunzip by the name: use '${out}.gz'`,
    );
  }
  const extension = toStdout ? '' : extensionOf(out);
  const formatFromName: DtFormat = extension === 'bin' ? 'bin' : 'csv';
  let format = formatFromName;
  if (values.format !== undefined) {
    if (values.format !== 'csv' && values.format !== 'bin') {
      throw new UsageError(`--format must be csv or bin, got "${values.format}"`);
    }
    format = values.format;
    if (DT_READABLE_EXTENSIONS.includes(extension) && format !== formatFromName) {
      throw new UsageError(
        `--format ${format} conflicts with the name '${out}' (.${extension} is read as ${formatFromName})`,
      );
    }
  }
  if (values.truth === '') throw new UsageError('--truth needs a file name');
  if (!toStdout && !DT_READABLE_EXTENSIONS.includes(extension)) {
    console.error(
      `note: '${out}' will be written as ${format}, but dt reads only .csv, .txt, .bin (optionally .gz) names`,
    );
  }
  return { rows, seed, format, gzip: values.gzip || nameGzipped, out, truth: values.truth };
}

function wholeNumber(option: string, text: string, max: number): number {
  const value = /^\d+(_\d+)*$/.test(text) ? Number(text.replaceAll('_', '')) : Number.NaN;
  if (!Number.isSafeInteger(value) || value > max) {
    throw new UsageError(`${option} must be a whole number from 0 to ${max}, got "${text}"`);
  }
  return value;
}

/** `run.csv.gz` → `csv`; `run` → ''. */
function extensionOf(path: string): string {
  const name = (path.split(/[/\\]/).pop() ?? '').toLowerCase().replace(/\.gz$/, '');
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1);
}

/** A file-system refusal (missing folder, no permission, full disk) is the user's to fix: one line. */
function asFileError(error: unknown, path: string): unknown {
  const code = error instanceof Error && 'code' in error ? String(error.code) : '';
  if (['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT'].includes(code)) {
    return new UsageError(`cannot write '${path}' (${code})`, { cause: error });
  }
  return error;
}

// --- writing -----------------------------------------------------------------------------------

/** The generator's chunks, with a progress line to stderr about once a second. */
function* chunksWithProgress(
  settings: DtGenerateSettings,
  truth: DtTruth,
  startedAt: number,
): Generator<Uint8Array> {
  const { rows, seed, format } = settings;
  let lastReportAt = startedAt;
  for (const chunk of generateDt({ rows, seed, format, truth })) {
    yield chunk;
    const now = performance.now();
    if (now - lastReportAt >= PROGRESS_INTERVAL_MS) {
      lastReportAt = now;
      const seconds = (now - startedAt) / 1000;
      console.error(`generate dt: ${truth.rows} of ${rows} rows (${formatRate(truth.rows, seconds)})`);
    }
  }
}

/** Passes the chunks on unchanged, counting their bytes. */
class ByteCounter extends Transform {
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** The streams from the generator to `destination`. */
type Stages = (destination: Writable) => (Readable | Writable)[];

/** Resolves false when the reader went away before the end. */
async function writeToStdout(stages: Stages): Promise<boolean> {
  try {
    // end: false keeps process.stdout open (it belongs to the process, not to this command).
    await pipeline(stages(process.stdout), { end: false });
    return true;
  } catch (error) {
    // The reader went away (`| head`): not this command's failure.
    if (error instanceof Error && 'code' in error && error.code === 'EPIPE') return false;
    throw error;
  }
}

/** Under a temporary name, renamed at the end: an interrupted run leaves no truncated file. */
async function writeToFile(out: string, stages: Stages): Promise<void> {
  const partial = `${out}.${process.pid}.partial`;
  try {
    await pipeline(stages(createWriteStream(partial)));
    await rename(partial, out);
  } catch (error) {
    await rm(partial, { force: true });
    throw asFileError(error, out);
  }
}

async function writeTruth(truthFile: string, truth: DtTruth): Promise<void> {
  await writeFile(truthFile, `${JSON.stringify(truth, null, 2)}\n`).catch((error: unknown) => {
    throw asFileError(error, truthFile);
  });
}

async function generateDtFile(settings: DtGenerateSettings): Promise<number> {
  const { seed, format, gzip, out } = settings;
  const toStdout = out === STDOUT;
  if (toStdout && process.stdout.isTTY && (format === 'bin' || gzip)) {
    throw new UsageError('refusing to write binary data to a terminal: redirect stdout or use --out FILE');
  }
  const truth = createDtTruth();
  const startedAt = performance.now();
  const counter = new ByteCounter();
  // One chunk (65 536 rows) in flight: the generator runs only when the output has room.
  const source = Readable.from(chunksWithProgress(settings, truth, startedAt), { highWaterMark: 1 });
  const stages: Stages = (destination) => [source, ...(gzip ? [createGzip()] : []), counter, destination];

  if (toStdout) {
    if (!(await writeToStdout(stages))) return 0;
  } else {
    await writeToFile(out, stages);
  }
  if (settings.truth !== undefined) await writeTruth(settings.truth, truth);

  const seconds = (performance.now() - startedAt) / 1000;
  const target = toStdout ? 'stdout' : out;
  console.error(
    `generate dt: ${truth.rows} rows (seed ${seed}, ${format}${gzip ? '.gz' : ''}) → ${target}: ` +
      `${counter.bytes} bytes in ${seconds.toFixed(2)} s (${formatRate(truth.rows, seconds)})` +
      (settings.truth === undefined ? '' : `; truth → ${settings.truth}`),
  );
  return 0;
}
