/**
 * `driftline reconcile`: checks the live state against an offline run of every replayed object (or
 * one run), on the local cloud or a deployed stage: the comparison is shared/pipeline/reconcile.ts,
 * the report reconcile-report.ts; this file parses the arguments, connects to the state table and the
 * buckets, waits for replays still in flight (--wait), shows progress on long objects and writes each
 * result for the dashboard.
 */
import { parseArgs } from 'node:util';
import { createDynamoDbClient, createDynamoDbItemStore } from '../../shared/adapters/dynamodb.ts';
import { createS3BlobStore, createS3Client, createS3ObjectSource } from '../../shared/adapters/s3.ts';
import { allAnalyses } from '../../shared/analyses/registry.ts';
import { type FunctionConfig, loadStackConfig } from '../../shared/config.ts';
import { withBlobOverflow } from '../../shared/pipeline/overflow-store.ts';
import type { ItemStore, ObjectSource } from '../../shared/pipeline/ports.ts';
import {
  type ReconcileProgress,
  type RunCheck,
  reconcile,
  recordOf,
  writeRecord,
} from '../../shared/pipeline/reconcile.ts';
import { LOCAL_REGION } from '../stack.ts';
import { readStackInfo } from '../stack-control.ts';
import { describeRun, exitCodeOf, runJson, summaryLine } from './reconcile-report.ts';
import { UsageError } from './usage-error.ts';

export const reconcileUsage = `Usage: driftline reconcile [--analysis ${allAnalyses()
  .map((analysis) => analysis.id)
  .join('|')}] [--run RUN …] [--wait] [--json] [--read-only]
                          [--stage STAGE [--param name=value …] [--region REGION]]

Checks the pipeline's exactly-once claim on your data: for every replayed object (or one run) it
reads the object back from the bucket, runs the same analysis over it offline (as \`driftline
analyze\` does, streamed, with each row in the partition replay gave it and, for an object replayed
with order=event-time, in event-time order), and compares the result quantity by quantity with the
live cumulative state the API serves. It prints a table per run: the quantity, its live and offline
values, equal or where they differ; and says which quantities one stream of the same rows
(\`driftline analyze\`) gives otherwise than the merged partitions, and why.

Not compared, and said so: a replay still running or not yet fully aggregated (nothing to compare
yet: --wait waits for it), a run whose object is gone (deleted, or replaced by a new upload under the
same key) and a replay refused before it sent anything.

Each result is written to the state table (pk "reconcile"): the dashboard shows it beside the replay.

Options:
  --analysis ID      only this analysis
  --run RUN          only this run (<key>@<etag>, as the API and the dashboard name it); repeatable
  --wait             wait for replays still running or being aggregated (while they make progress)
  --json             one JSON object per run on stdout instead of the tables
  --read-only        do not write the results to the state table
  --stage STAGE      a deployed stage instead of the local cloud: table driftline-state-STAGE, state
                     bucket driftline-state-STAGE (or --param stateBucket=…), with the usual AWS
                     settings (credentials, AWS_REGION or --region)
  --param name=value as given to \`serverless deploy\` (stateBucket is the one read)
  --region REGION    the stage's region (default: AWS_REGION)
  -h, --help         this text

Exit code: 0 every run compared equal; 1 a quantity differs; 3 nothing differs, but a run could not be
compared (still running, being aggregated, object gone) or there was nothing to compare.

Example: npx driftline reconcile --analysis sf --wait`;

/** Waiting (--wait) gives up when the pending runs have not moved for this long. */
const WAIT_STALL_MS = 120_000;
const WAIT_POLL_MS = 2_000;
const PROGRESS_EVERY_MS = 1_000;

interface Connection {
  readonly store: ItemStore;
  readonly source: ObjectSource;
  readonly where: string;
  close(): void;
}

function connectTo(
  aws: FunctionConfig['aws'],
  names: { table: string; stateBucket: string },
  where: string,
): Connection {
  const dynamodb = createDynamoDbClient(aws);
  const s3 = createS3Client(aws);
  return {
    store: withBlobOverflow(
      createDynamoDbItemStore(dynamodb, names.table),
      createS3BlobStore(s3, names.stateBucket),
      {
        inlineMaxBytes: 65_536,
      },
    ),
    source: createS3ObjectSource(s3),
    where,
    close() {
      dynamodb.destroy();
      s3.destroy();
    },
  };
}

async function connect(values: {
  readonly stage?: string | undefined;
  readonly param: readonly string[];
  readonly region?: string | undefined;
}): Promise<Connection> {
  if (values.stage === undefined) {
    const { dataDir } = loadStackConfig();
    const info = await readStackInfo(dataDir);
    if (!info) {
      throw new UsageError(
        `no local cloud is running from ${dataDir}: start it (\`npm start\`), or give --stage for a deployed one`,
      );
    }
    const aws = {
      region: LOCAL_REGION,
      s3Endpoint: info.endpoints.s3,
      dynamodbEndpoint: info.endpoints.dynamodb,
      kinesisEndpoint: info.endpoints.kinesis,
      lambdaEndpoint: undefined,
    };
    return connectTo(
      aws,
      { table: info.stateTable, stateBucket: info.stateBucket },
      `the local cloud (table ${info.stateTable})`,
    );
  }
  const params = new Map<string, string>();
  for (const param of values.param) {
    const match = /^([A-Za-z0-9]+)=(.*)$/.exec(param);
    if (!match?.[1]) throw new UsageError(`--param wants name=value, not "${param}"`);
    params.set(match[1], match[2] ?? '');
  }
  const region = values.region ?? process.env.AWS_REGION;
  if (!region) throw new UsageError('a deployed stage needs its region: --region or AWS_REGION');
  const table = `driftline-state-${values.stage}`;
  const aws = {
    region,
    s3Endpoint: undefined,
    dynamodbEndpoint: undefined,
    kinesisEndpoint: undefined,
    lambdaEndpoint: undefined,
  };
  return connectTo(
    aws,
    { table, stateBucket: params.get('stateBucket') ?? `driftline-state-${values.stage}` },
    `stage ${values.stage} in ${region} (table ${table})`,
  );
}

/** Progress on long objects, on stderr: one line rewritten on a terminal, a line every 10 s otherwise. */
class ProgressLine {
  private lastAt = 0;
  private shown = false;
  private readonly tty = process.stderr.isTTY === true;

  report(progress: ReconcileProgress): void {
    const now = Date.now();
    if (now - this.lastAt < (this.tty ? PROGRESS_EVERY_MS : 10 * PROGRESS_EVERY_MS)) return;
    this.lastAt = now;
    const total = progress.totalRows;
    const percent = total > 0 ? ` (${Math.min(100, Math.round((100 * progress.rows) / total))} %)` : '';
    const line = `reconcile ${progress.object.key}: ${progress.phase} ${progress.rows.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} rows${percent}`;
    if (this.tty) {
      process.stderr.write(`\r\u001b[2K${line}`);
      this.shown = true;
    } else {
      process.stderr.write(`${line}\n`);
    }
  }

  clear(): void {
    if (this.shown) process.stderr.write('\r\u001b[2K');
    this.shown = false;
  }
}

const PENDING = new Set(['running', 'aggregating']);

/** How far the pending runs have got (rows sent + rows counted), to tell waiting from stalling. */
function pendingProgress(checks: readonly RunCheck[]): number {
  return checks.reduce(
    (sum, check) =>
      sum + (check.kind === 'running' || check.kind === 'aggregating' ? check.rowsSent + check.liveRows : 0),
    0,
  );
}

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

export async function reconcileCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      analysis: { type: 'string' },
      run: { type: 'string', multiple: true },
      wait: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'read-only': { type: 'boolean', default: false },
      stage: { type: 'string' },
      param: { type: 'string', multiple: true, default: [] },
      region: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(reconcileUsage);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument(s): ${positionals.join(' ')} (see --help)`);
  const known = allAnalyses().map((analysis) => analysis.id);
  if (values.analysis !== undefined && !known.includes(values.analysis)) {
    throw new UsageError(`unknown analysis "${values.analysis}"; known analyses: ${known.join(', ')}`);
  }
  const connection = await connect(values);
  const progress = new ProgressLine();
  const deps = {
    store: connection.store,
    source: connection.source,
    analyses: allAnalyses(),
    onProgress: (step: ReconcileProgress) => progress.report(step),
  };
  try {
    console.error(`reconcile: reading the replays and the live state of ${connection.where}…`);
    const selection = {
      ...(values.analysis === undefined ? {} : { analysis: values.analysis }),
      ...(values.run === undefined ? {} : { runs: new Set(values.run) }),
    };
    let checks = await reconcile(selection, deps);
    if (values.wait) checks = await waitForPending(checks, selection, deps);
    progress.clear();
    const missing = (values.run ?? []).filter((run) => !checks.some((check) => check.run === run));
    if (missing.length > 0) {
      throw new UsageError(
        `no replay and no state of run ${missing.map((run) => `"${run}"`).join(', ')} (the dashboard and /api/v1/replays name the runs)`,
      );
    }
    const checkedAtMs = Date.now();
    if (!values['read-only']) {
      for (const check of checks) {
        if (check.kind === 'compared') await writeRecord(connection.store, recordOf(check, checkedAtMs));
      }
    }
    if (values.json) {
      for (const check of checks) console.log(JSON.stringify(runJson(check)));
    } else {
      for (const check of checks) console.log(`${describeRun(check).join('\n')}\n`);
    }
    const written = !values['read-only'] && checks.some((check) => check.kind === 'compared');
    console.error(`${summaryLine(checks)}${written ? ' (results written for the dashboard)' : ''}`);
    return exitCodeOf(checks);
  } finally {
    progress.clear();
    connection.close();
  }
}

/** Re-checks the runs still in flight until none is, or they stop moving for WAIT_STALL_MS. */
async function waitForPending(
  first: RunCheck[],
  selection: Parameters<typeof reconcile>[0],
  deps: Parameters<typeof reconcile>[1],
): Promise<RunCheck[]> {
  let checks = first;
  let best = pendingProgress(checks);
  let movedAt = Date.now();
  for (;;) {
    const pending = checks.filter((check) => PENDING.has(check.kind));
    if (pending.length === 0) return checks;
    if (Date.now() - movedAt > WAIT_STALL_MS) {
      console.error(
        `reconcile: no progress for ${WAIT_STALL_MS / 1000} s (is the pipeline running? a state that stays ` +
          'short of the rows sent has lost rows); reporting the runs still in flight as they are',
      );
      return checks;
    }
    let counted = 0;
    let sent = 0;
    for (const check of pending) {
      counted += check.liveRows;
      if (check.kind === 'running' || check.kind === 'aggregating') sent += check.rowsSent;
    }
    console.error(
      `reconcile: waiting for ${pending.length} run${pending.length === 1 ? '' : 's'} still in flight ` +
        `(${counted.toLocaleString('en-US')} rows counted; at the last checkpoint ${sent.toLocaleString('en-US')} sent)…`,
    );
    await sleep(WAIT_POLL_MS);
    const again = await reconcile({ ...selection, runs: new Set(pending.map((check) => check.run)) }, deps);
    const byRun = new Map(again.map((check) => [check.run, check]));
    checks = checks.map((check) => byRun.get(check.run) ?? check);
    const now = pendingProgress(checks);
    if (now > best) {
      best = now;
      movedAt = Date.now();
    }
  }
}
