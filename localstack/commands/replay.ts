/**
 * `driftline replay FILE`: puts a local file through the running pipeline (`npm start`). It checks
 * the file (replay-file.ts), uploads it into the local cloud's dataset bucket under its analysis'
 * prefix with the replay settings as object metadata — exactly what dropping it into the bucket on
 * AWS does — and with `--follow` shows its progress to the end, then its summary (replay-follow.ts).
 *
 * Keys: `<analysis>/replay/<file name>`, so a file replayed twice by mistake is recognised (same
 * name, same content: the object's ETag is its MD5); `--again` replays it once more under
 * `<analysis>/replay/<time>/<file name>`, a new run of its own.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { createS3Client, putObjectFromFile } from '../../shared/adapters/s3.ts';
import { allAnalyses } from '../../shared/analyses/registry.ts';
import { loadStackConfig } from '../../shared/config.ts';
import { eventTimeRefusal } from '../../shared/pipeline/replay/event-time-replay.ts';
import { type RuntimeInfo, readRuntimeInfo } from '../runtime-info.ts';
import { LOCAL_REGION, type StackInfo } from '../stack.ts';
import { readStackInfo } from '../stack-control.ts';
import { replayStatusSchema } from './demo-status.ts';
import { type CheckedFile, checkReplayFile } from './replay-file.ts';
import { followReplay } from './replay-follow.ts';
import { UsageError } from './usage-error.ts';

export const replayUsage = `Usage: driftline replay FILE [options]

Puts a file of yours through the running pipeline (\`npm start\`): uploads it to the local cloud's
dataset bucket under its analysis' prefix (<analysis>/replay/<file name>), with the replay settings
as object metadata; its S3 event starts the replay, as on AWS.

Arguments:
  FILE                  a dataset file, optionally .gz: dt .csv .txt .bin (the telescope's lines
                        or 64-bit words); sf and sfb .json (an array of calls) or .ndjson

Options:
  --analysis A          ${allAnalyses()
    .map((analysis) => analysis.id)
    .join(', ')} (default: by the extension, .json/.ndjson sf, else dt)
  --rate R              rows/s; 0 = as fast as possible (default: the pipeline's, 1000)
  --rows-per-record N   rows packed into one Kafka message (default 1, as the source systems)
  --partition P         every row to this partition of data_raw (default: by the row's key)
  --order O             file (default) or event-time: sf rows sorted by call_date_time first (an
                        external sort in bounded memory), so its event-time windows fill; dt has
                        no order to restore (its reducer keeps recent orbits open) and refuses it
  --follow              show its progress until it is replayed and counted, then print its
                        cumulative summary as one JSON line on stdout (as \`driftline analyze\`'s
                        last "cumulative")
  --again               replay a file replayed before once more, as a new run
  -h, --help            this text

Example: npx driftline replay my-run.csv.gz --rate 0 --follow`;

const settingsSchema = z.object({
  rate: z.coerce.number({ error: '--rate must be a number' }).min(0, '--rate must be ≥ 0').optional(),
  rowsPerRecord: z.coerce
    .number({ error: '--rows-per-record must be a number' })
    .int('--rows-per-record must be a whole number')
    .min(1, '--rows-per-record must be at least 1')
    .max(100_000, '--rows-per-record must be at most 100000')
    .optional(),
  partition: z.coerce
    .number({ error: '--partition must be a number' })
    .int('--partition must be a whole number')
    .min(0, '--partition must be ≥ 0')
    .optional(),
  order: z.enum(['file', 'event-time'], { error: '--order must be file or event-time' }).optional(),
});
type ReplaySettings = z.infer<typeof settingsSchema>;

interface ReplayArgs {
  readonly file: string;
  readonly analysis: string | undefined;
  readonly settings: ReplaySettings;
  readonly follow: boolean;
  readonly again: boolean;
}

function parseReplayArgs(args: string[]): ReplayArgs | 'help' | 'usage' {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      analysis: { type: 'string' },
      rate: { type: 'string' },
      'rows-per-record': { type: 'string' },
      partition: { type: 'string' },
      order: { type: 'string' },
      follow: { type: 'boolean', default: false },
      again: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const [file, ...extra] = positionals;
  if (file === undefined) return 'usage';
  if (extra.length > 0) throw new UsageError(`one file at a time; unexpected: ${extra.join(' ')}`);
  const parsed = settingsSchema.safeParse({
    rate: values.rate,
    rowsPerRecord: values['rows-per-record'],
    partition: values.partition,
    order: values.order,
  });
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((issue) => issue.message).join('; '));
  return {
    file,
    analysis: values.analysis,
    settings: parsed.data,
    follow: values.follow,
    again: values.again,
  };
}

/** The stack and the pipeline of this data folder, or what to do to start them. */
async function runningPipeline(dataDir: string): Promise<{ stack: StackInfo; runtime: RuntimeInfo }> {
  const stack = await readStackInfo(dataDir);
  if (!stack) {
    throw new UsageError(
      `no local cloud is running from ${dataDir}: start it with \`npm start\` (in another terminal; ` +
        '`npm start -- --files 0` runs it without the demo files), then replay the file again',
    );
  }
  const runtime = await readRuntimeInfo(dataDir);
  if (!runtime) {
    throw new UsageError(
      `the local cloud runs (pid ${stack.pid}) but no pipeline does, so nothing would replay the file: ` +
        'start it with `npm start` (in another terminal; it uses the running cloud)',
    );
  }
  return { stack, runtime };
}

/** `2025-01-02T03:04:05.678Z` → `20250102-030405`. */
function stamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
}

function objectKeyFor(file: CheckedFile, again: boolean): string {
  if (file.referenceKey) return file.referenceKey;
  return again
    ? `${file.analysis.id}/replay/${stamp(new Date())}/${file.name}`
    : `${file.analysis.id}/replay/${file.name}`;
}

async function md5Of(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest('hex');
}

/** Refuses a key replayed before, saying how (its state, from the pipeline) and what to do. */
async function refuseIfReplayed(
  s3: S3Client,
  stack: StackInfo,
  runtime: RuntimeInfo,
  file: CheckedFile,
  key: string,
) {
  const existing = await s3
    .send(new HeadObjectCommand({ Bucket: stack.datasetBucket, Key: key }))
    .catch(() => undefined);
  if (!existing) return;
  const again = `to replay it again: driftline replay ${file.path} --again`;
  if ((existing.ETag ?? '').replaceAll('"', '') !== (await md5Of(file.path))) {
    throw new UsageError(
      `another file named ${file.name} was replayed before as s3://${stack.datasetBucket}/${key}; ${again}`,
    );
  }
  const replays = z.object({ replays: z.array(replayStatusSchema) });
  const state = await fetch(`${runtime.apiUrl}/api/v1/replays`)
    .then(async (response) =>
      replays.parse(await response.json()).replays.find((replay) => replay.key === key),
    )
    .catch(() => undefined);
  const how = state
    ? state.status === 'running'
      ? ` and is being replayed (${state.rowsSent} rows so far)`
      : ` (${state.status}, ${state.rowsSent} rows; run ${state.run})`
    : '';
  throw new UsageError(
    `${file.path} was already replayed as s3://${stack.datasetBucket}/${key}${how}; ${again}`,
  );
}

function metadataOf(settings: ReplaySettings): Record<string, string> {
  return {
    ...(settings.rate === undefined ? {} : { rate: String(settings.rate) }),
    ...(settings.rowsPerRecord === undefined ? {} : { 'rows-per-record': String(settings.rowsPerRecord) }),
    ...(settings.partition === undefined ? {} : { partition: String(settings.partition) }),
    ...(settings.order === undefined ? {} : { order: settings.order }),
  };
}

function describeSettings(file: CheckedFile, settings: ReplaySettings): string {
  return [
    `analysis ${file.analysis.id}${file.analysisGuessed ? ', chosen by the extension' : ''}`,
    settings.rate === undefined
      ? 'the pipeline’s default rate'
      : settings.rate === 0
        ? 'full speed'
        : `${settings.rate} rows/s`,
    ...(settings.rowsPerRecord === undefined ? [] : [`${settings.rowsPerRecord} rows per record`]),
    ...(settings.partition === undefined ? [] : [`all to partition ${settings.partition}`]),
    ...(settings.order === 'event-time' ? ['in event-time order'] : []),
  ].join(', ');
}

export async function replayCommand(args: string[]): Promise<number> {
  const parsed = parseReplayArgs(args);
  if (parsed === 'help' || parsed === 'usage') {
    (parsed === 'help' ? console.log : console.error)(replayUsage);
    return parsed === 'help' ? 0 : 2;
  }
  const file = await checkReplayFile(parsed.file, parsed.analysis);
  // Refused here, before an upload, with the very words the replay would refuse it with.
  const orderRefusal = parsed.settings.order === 'event-time' ? eventTimeRefusal(file.analysis) : undefined;
  if (orderRefusal) throw new UsageError(`--order event-time: ${orderRefusal}`);
  const config = loadStackConfig();
  const { stack, runtime } = await runningPipeline(config.dataDir);
  const partitions = stack.topics.find((topic) => topic.name === 'data_raw')?.partitions;
  const { partition } = parsed.settings;
  if (partition !== undefined && partitions !== undefined && partition >= partitions) {
    throw new UsageError(`--partition must be below ${partitions}, the partitions of data_raw`);
  }
  const key = objectKeyFor(file, parsed.again);
  const s3 = createS3Client({ region: LOCAL_REGION, s3Endpoint: stack.endpoints.s3 });
  try {
    if (!file.referenceKey) await refuseIfReplayed(s3, stack, runtime, file, key);
    await putObjectFromFile(s3, {
      bucket: stack.datasetBucket,
      key,
      file: file.path,
      metadata: metadataOf(parsed.settings),
    });
  } finally {
    s3.destroy();
  }
  const target = `s3://${stack.datasetBucket}/${key}`;
  if (file.referenceKey) {
    console.error(
      `Uploaded ${file.path} to ${target}: reference data of ${file.analysis.id}, read by the API, not replayed.`,
    );
    return 0;
  }
  console.error(`Uploaded ${file.path} to ${target} (${describeSettings(file, parsed.settings)}).`);
  if (!parsed.follow) {
    console.error(`Its progress: the dashboard (${runtime.apiUrl}/), or ${runtime.apiUrl}/api/v1/replays`);
    return 0;
  }
  const followed = await followReplay({ apiUrl: runtime.apiUrl, key, label: file.name });
  console.error(
    `Replayed ${followed.rowsSent} rows in ${followed.seconds.toFixed(1)} s; run ${followed.run}. Its cumulative summary:`,
  );
  console.log(
    JSON.stringify({
      analysis: file.analysis.id,
      key,
      run: followed.run,
      rows: followed.rows,
      rejectedRows: followed.rejectedRows,
      summary: followed.summary,
    }),
  );
  return 0;
}
