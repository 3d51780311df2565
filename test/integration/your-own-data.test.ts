/**
 * A person's own file through the running pipeline, the two documented ways (README "Your own
 * data"), on the test stack: `npm start -- --files 0` runs the pipeline (it reuses the stack of its
 * data folder), then
 * - `driftline replay FILE --follow` uploads the file, shows it to the end and prints its summary,
 *   which must equal `driftline analyze` of the same file; replaying it again is refused with how
 *   to; the real sf file goes through too;
 * - any AWS SDK, configured by nothing but the variables `driftline stack env` prints, uploads a
 *   file into the dataset bucket, and the pipeline replays it.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';
import { type DemoProcess, startProcess } from '../support/demo-process.ts';
import { pollUntil } from '../support/stack-clients.ts';
import { writeTelescopeCsv } from '../support/test-runtime.ts';

const execFileAsync = promisify(execFile);
const stack = inject('stack');
const SF_FILE = '/work/shared/data/sf/police-department-calls-for-service.sample2000.json';
const sfUnavailable = existsSync(SF_FILE) ? undefined : `${SF_FILE} is absent`;
if (sfUnavailable) console.warn(`[your-own-data.test] the real sf file's case is skipped: ${sfUnavailable}`);

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `driftline args…` against the test stack's data folder, as a person runs it. */
function driftline(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<Run> {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'localstack/driftline.mjs'), ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DRIFTLINE_DATA_DIR: stack.dataDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', rejectRun);
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

const followedSchema = z.object({
  analysis: z.string(),
  key: z.string(),
  run: z.string(),
  rows: z.number(),
  summary: z.record(z.string(), z.unknown()),
});

function lastJsonLine(text: string): unknown {
  return JSON.parse(text.trim().split('\n').at(-1) ?? 'null');
}

async function analyzeCumulative(analysis: string, file: string): Promise<unknown> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [join(PROJECT_ROOT, 'localstack/driftline.mjs'), 'analyze', analysis, file],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return z.object({ cumulative: z.unknown() }).parse(lastJsonLine(stdout)).cumulative;
}

describe('your own data, through the running pipeline', () => {
  let workDir = '';
  let pipeline: DemoProcess | undefined;
  let apiUrl = '';
  const explain = () => `--- npm start output (last lines):\n${pipeline?.tail(80) ?? '(not started)'}`;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'driftline-own-data-'));
    await writeTelescopeCsv(join(workDir, 'my-run.csv'), 30_000, 2026);
  });

  afterAll(async () => {
    await pipeline?.kill();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('without a pipeline, replay says the cloud runs but nothing would replay the file', async () => {
    const run = await driftline(['replay', join(workDir, 'my-run.csv')]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(
      /the local cloud runs \(pid \d+\) but no pipeline does.*start it with `npm start`/,
    );
  });

  it('npm start -- --files 0 runs the pipeline alone, ready for files', async () => {
    pipeline = startProcess({
      command: 'npm',
      args: ['start', '--', '--files', '0'],
      cwd: PROJECT_ROOT,
      env: {
        DRIFTLINE_DATA_DIR: stack.dataDir,
        DRIFTLINE_API_PORT: '0',
        DRIFTLINE_CACHE_DIR: join(workDir, 'cache'),
      },
    });
    apiUrl = await pipeline.apiUrl(120_000);
    expect(pipeline.lines.join('\n')).toMatch(/No demo files \(--files 0\)/);
  });

  it('replay --follow shows the file to the end; its summary equals driftline analyze of the file', async () => {
    const file = join(workDir, 'my-run.csv');
    const [run, offline] = await Promise.all([
      driftline(['replay', file, '--rate', '0', '--follow']),
      analyzeCumulative('dt', file),
    ]);
    expect(run.code, `${run.stderr}\n${explain()}`).toBe(0);
    expect(run.stderr).toMatch(
      /Uploaded .*my-run\.csv to s3:\/\/.*\/dt\/replay\/my-run\.csv \(analysis dt, chosen by/,
    );
    expect(run.stderr).toMatch(/my-run\.csv .*100\.0%.*done/);
    const followed = followedSchema.parse(lastJsonLine(run.stdout));
    expect(followed).toMatchObject({ analysis: 'dt', key: 'dt/replay/my-run.csv', rows: 30_000 });
    expect(followed.summary).toEqual(offline);
  });

  it('the same file again is refused with how to replay it again; --again does', async () => {
    const file = join(workDir, 'my-run.csv');
    const again = await driftline(['replay', file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      /my-run\.csv was already replayed as s3:\/\/[^ ]+\/dt\/replay\/my-run\.csv \(done, 30000 rows; run dt\/replay\/my-run\.csv@[0-9a-f]+\); to replay it again: driftline replay .*my-run\.csv --again/,
    );
    const forced = await driftline(['replay', file, '--again', '--rate', '0']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/to s3:\/\/[^ ]+\/dt\/replay\/\d{8}-\d{6}\/my-run\.csv/);
  });

  it.skipIf(sfUnavailable !== undefined)('the real sf calls go through too', async () => {
    const run = await driftline(['replay', SF_FILE, '--rate', '0', '--follow']);
    expect(run.code, `${run.stderr}\n${explain()}`).toBe(0);
    const followed = followedSchema.parse(lastJsonLine(run.stdout));
    expect(followed).toMatchObject({ analysis: 'sf', rows: 2_000 });
    // Exact deduplication and per-type counts do not depend on how the stream was cut.
    const offline = z
      .object({ rows_distinct: z.number(), crime_types: z.array(z.unknown()) })
      .parse(await analyzeCumulative('sf', SF_FILE));
    expect(followed.summary).toMatchObject({
      rows_distinct: offline.rows_distinct,
      crime_types: offline.crime_types,
    });
  });

  it('any AWS SDK, given only what `driftline stack env` prints, uploads into the bucket and it is replayed', async () => {
    const env = await driftline(['stack', 'env']);
    expect(env.code, env.stderr).toBe(0);
    const exported = Object.fromEntries(
      env.stdout.split('\n').flatMap((line) => {
        const match = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
        return match?.[1] && match[2] !== undefined ? [[match[1], match[2]]] : [];
      }),
    );
    for (const name of ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_KINESIS']) {
      expect(exported[name], name).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
    const file = join(workDir, 'my-run.csv');
    const key = `dt/sdk-${Date.now()}/my-run.csv`;
    // A separate process whose whole environment is those variables (and PATH): the SDK's own
    // defaults, no endpoint, credentials or region in code. Streamed, as `aws s3 cp` streams.
    const script = `
      import { createReadStream, statSync } from 'node:fs';
      import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
      const s3 = new S3Client({});
      const [file, bucket, key] = process.argv.slice(1);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(file),
        ContentLength: statSync(file).size, Metadata: { rate: '0' } }));
      const back = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      process.stdout.write(await back.Body.transformToString());`;
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--input-type=module', '-e', script, file, exported.DRIFTLINE_DATASET_BUCKET ?? '', key],
      { cwd: PROJECT_ROOT, env: { PATH: process.env.PATH ?? '', ...exported }, maxBuffer: 64 * 1024 * 1024 },
    );
    expect(stdout).toBe(await readFile(file, 'utf8'));
    const replays = z.object({
      replays: z.array(z.object({ key: z.string(), status: z.string(), rowsSent: z.number() })),
    });
    const replay = await pollUntil(
      async () => {
        const body = replays.parse(await (await fetch(`${apiUrl}/api/v1/replays`)).json());
        const ours = body.replays.find((entry) => entry.key === key);
        return ours?.status === 'done' ? ours : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: `the replay of ${key}`, explain },
    );
    expect(replay.rowsSent).toBe(30_000);
  });

  it('Ctrl-C stops the pipeline cleanly', async () => {
    if (!pipeline) throw new Error('no pipeline');
    pipeline.interrupt();
    await pipeline.exited;
    expect(
      pipeline.lines.some((line) => /^err\| Stopped\b/.test(line)),
      explain(),
    ).toBe(true);
  });
});
