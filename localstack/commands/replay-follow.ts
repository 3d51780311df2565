/**
 * `driftline replay --follow`: the replay of one object from the running pipeline's API, as a
 * progress bar (stderr) until it is done, then until the aggregate has counted every row it sent;
 * then the cumulative summary of its run, the same JSON `driftline analyze` gives as its last
 * `cumulative`.
 */
import { z } from 'zod';
import { LiveDisplay } from './demo-display.ts';
import { formatCount, type ReplayStatus, replayLine, replayStatusSchema } from './demo-status.ts';
import { UsageError } from './usage-error.ts';

const replaysSchema = z.object({ replays: z.array(replayStatusSchema) });
const summarySchema = z.object({
  analysis: z.string(),
  rows: z.number(),
  rejectedRows: z.number(),
  summary: z.record(z.string(), z.unknown()),
});

/** How long the pipeline may take to start a replay after the upload (its S3 event). */
const START_TIMEOUT_MS = 120_000;
/** How long the aggregate's count may stand still before following gives up. */
const AGGREGATE_STALL_MS = 120_000;
const POLL_MS = 500;

export interface FollowedReplay {
  readonly run: string;
  readonly rowsSent: number;
  readonly seconds: number;
  readonly rows: number;
  readonly rejectedRows: number;
  readonly summary: Record<string, unknown>;
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response.json();
}

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

async function replayOf(apiUrl: string, key: string): Promise<ReplayStatus | undefined> {
  const { replays } = replaysSchema.parse(await getJson(`${apiUrl}/api/v1/replays`));
  return replays.find((replay) => replay.key === key);
}

/** Shows the replay's progress until it is done; throws when it is refused or never starts. */
async function followUntilSent(apiUrl: string, key: string, label: string, display: LiveDisplay) {
  const uploadedAt = Date.now();
  for (;;) {
    const replay = await replayOf(apiUrl, key);
    if (replay) display.show([replayLine(replay, label, label.length)], replay.status !== 'running');
    if (replay?.status === 'done') return replay;
    if (replay?.status === 'refused') {
      throw new UsageError(`the pipeline refused ${key}: ${replay.message ?? 'no reason given'}`);
    }
    if (!replay && Date.now() - uploadedAt > START_TIMEOUT_MS) {
      throw new UsageError(
        `the pipeline has not started replaying ${key} ${START_TIMEOUT_MS / 1000} s after the upload; ` +
          'see the output of `npm start` for why',
      );
    }
    await sleep(POLL_MS);
  }
}

/** Waits until the aggregate has counted every row the replay sent; returns the run's summary. */
async function followUntilCounted(apiUrl: string, replay: ReplayStatus, display: LiveDisplay) {
  const url = `${apiUrl}/api/v1/analyses/${encodeURIComponent(analysisOfKey(replay.key))}/summary?run=${encodeURIComponent(replay.run)}`;
  let best = -1;
  let movedAt = Date.now();
  for (;;) {
    const answer = summarySchema.parse(await getJson(url));
    if (answer.rows >= replay.rowsSent) return answer;
    if (answer.rows > best) {
      best = answer.rows;
      movedAt = Date.now();
    } else if (Date.now() - movedAt > AGGREGATE_STALL_MS) {
      throw new UsageError(
        `the aggregate has counted ${answer.rows} of the ${replay.rowsSent} rows sent and not moved for ` +
          `${AGGREGATE_STALL_MS / 1000} s; see the output of \`npm start\` for why`,
      );
    }
    display.show([
      `aggregating: ${formatCount(answer.rows)} of ${formatCount(replay.rowsSent)} rows counted`,
    ]);
    await sleep(POLL_MS);
  }
}

/** The analysis of an object key: its first segment (registry.ts). */
function analysisOfKey(key: string): string {
  return key.split('/', 1)[0] ?? '';
}

export async function followReplay(options: {
  readonly apiUrl: string;
  readonly key: string;
  readonly label: string;
}): Promise<FollowedReplay> {
  const { apiUrl, key, label } = options;
  const display = new LiveDisplay(process.stderr);
  const started = Date.now();
  const replay = await followUntilSent(apiUrl, key, label, display);
  const seconds = (Date.now() - started) / 1000;
  const answer = await followUntilCounted(apiUrl, replay, display);
  display.show(
    [`${label}: ${formatCount(answer.rows)} rows counted (${formatCount(answer.rejectedRows)} rejected)`],
    true,
  );
  return {
    run: replay.run,
    rowsSent: replay.rowsSent,
    seconds,
    rows: answer.rows,
    rejectedRows: answer.rejectedRows,
    summary: answer.summary,
  };
}
