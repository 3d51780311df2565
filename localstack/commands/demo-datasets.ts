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
import { type DemoSession, demoFileKey } from './demo-session.ts';
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
 * Uploads the session's files (seeds `seed`, `seed + 1`, … as `<prefix>telescope-<n>.csv`) that
 * `needsUpload` asks for; stops early once `stopRequested()` says so. Each upload starts a replay.
 * Resolves with the number uploaded.
 */
export async function uploadDemoFiles(options: {
  readonly stack: StackInfo;
  readonly cacheDir: string;
  readonly session: DemoSession;
  readonly needsUpload: (key: string) => Promise<boolean>;
  readonly stopRequested: () => boolean;
}): Promise<number> {
  const { stack, session } = options;
  const s3 = createS3Client({ region: LOCAL_REGION, s3Endpoint: stack.endpoints.s3 });
  let uploaded = 0;
  try {
    for (let index = 0; index < session.files && !options.stopRequested(); index++) {
      const key = demoFileKey(session, index);
      if (!(await options.needsUpload(key))) continue;
      const file = await datasetFile(options.cacheDir, session.seed + index, session.rows);
      await putObjectFromFile(s3, {
        bucket: stack.datasetBucket,
        key,
        file,
        metadata: { rate: String(session.rate), 'rows-per-record': String(session.rowsPerRecord) },
      });
      uploaded += 1;
    }
  } finally {
    s3.destroy();
  }
  return uploaded;
}
