/**
 * The demo's input: telescope files like the real DAQ ones, generated once per (seed, rows) into the
 * cache, then uploaded to the dataset bucket with the replay settings as object metadata.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createS3Client, putObjectFromFile } from '../../shared/adapters/s3.ts';
import { generateDt } from '../../shared/analyses/dt/generator.ts';
import { LOCAL_REGION, type StackInfo } from '../stack.ts';
import { formatCount } from './demo-status.ts';

/** Generates the file once per (seed, rows); later demos reuse it. */
async function datasetFile(cacheDir: string, seed: number, rows: number): Promise<string> {
  const dir = join(cacheDir, 'datasets');
  const file = join(dir, `dt-seed${seed}-${rows}.csv`);
  if (existsSync(file)) return file;
  await mkdir(dir, { recursive: true });
  process.stderr.write(`Generating ${formatCount(rows)} rows of telescope data (seed ${seed})… `);
  const started = Date.now();
  await pipeline(
    Readable.from(generateDt({ rows, seed, format: 'csv' })),
    createWriteStream(`${file}.partial`),
  );
  await rename(`${file}.partial`, file);
  process.stderr.write(`${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return file;
}

/**
 * Uploads `files` files (seeds `seed`, `seed + 1`, …) as `<prefix>telescope-<n>.csv`; stops early
 * once `stopRequested()` says so. Each upload starts a replay.
 */
export async function uploadDemoFiles(options: {
  readonly stack: StackInfo;
  readonly cacheDir: string;
  readonly prefix: string;
  readonly files: number;
  readonly rows: number;
  readonly seed: number;
  readonly rate: number;
  readonly rowsPerRecord: number;
  readonly stopRequested: () => boolean;
}): Promise<void> {
  const { stack, prefix } = options;
  const s3 = createS3Client({ region: LOCAL_REGION, s3Endpoint: stack.endpoints.s3 });
  for (let index = 0; index < options.files && !options.stopRequested(); index++) {
    const file = await datasetFile(options.cacheDir, options.seed + index, options.rows);
    await putObjectFromFile(s3, {
      bucket: stack.datasetBucket,
      key: `${prefix}telescope-${index + 1}.csv`,
      file,
      metadata: { rate: String(options.rate), 'rows-per-record': String(options.rowsPerRecord) },
    });
  }
  s3.destroy();
}
