/**
 * Which files a demo replays: those of the earlier demo when it is unfinished, or new ones.
 *
 * A demo's files live under a prefix of their own (`dt/demo-20250102-030405/telescope-1.csv` …),
 * recorded with the options that made them in `demo-session.json` in the data folder (so `--fresh`,
 * which wipes the folder, forgets it too). A second `npm start` with the same options goes on with
 * that demo: its unfinished replays are continued from their checkpoints by the runtime
 * (replay-continuation.ts), and only files it never uploaded — it was stopped while uploading — are
 * uploaded now. New files are made when asked: `--fresh`, other options, or the earlier demo done.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** What decides a demo's files. */
export const demoPlanSchema = z.object({
  files: z.number().int(),
  rows: z.number().int(),
  seed: z.number().int(),
  rate: z.number(),
  rowsPerRecord: z.number().int(),
});
export type DemoPlan = z.infer<typeof demoPlanSchema>;

const sessionSchema = demoPlanSchema.extend({ prefix: z.string(), startedAt: z.string() });
export type DemoSession = z.infer<typeof sessionSchema>;

/** Where one of the demo's files stands. */
export type DemoFileState = 'not-uploaded' | 'not-started' | 'unfinished' | 'finished';

export function demoFileKey(session: Pick<DemoSession, 'prefix'>, index: number): string {
  return `${session.prefix}telescope-${index + 1}.csv`;
}

function sessionFile(dataDir: string): string {
  return join(dataDir, 'demo-session.json');
}

async function readSession(dataDir: string): Promise<DemoSession | undefined> {
  try {
    return sessionSchema.parse(JSON.parse(await readFile(sessionFile(dataDir), 'utf8')));
  } catch {
    return undefined;
  }
}

/** `dt/demo-20250102-030405/`: this demo's files, apart from earlier demos' in the same bucket. */
function newPrefix(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `dt/demo-${stamp}/`;
}

function samePlan(a: DemoPlan, b: DemoPlan): boolean {
  return (
    a.files === b.files &&
    a.rows === b.rows &&
    a.seed === b.seed &&
    a.rate === b.rate &&
    a.rowsPerRecord === b.rowsPerRecord
  );
}

export interface ChosenSession {
  readonly session: DemoSession;
  /** True when going on with the earlier demo. */
  readonly continued: boolean;
  /** One line on what was chosen and why, when there was an earlier demo. */
  readonly note: string | undefined;
}

/** The earlier demo if it is to go on, else a new one (recorded in the data folder). */
export async function chooseDemoSession(options: {
  readonly dataDir: string;
  readonly plan: DemoPlan;
  readonly fresh: boolean;
  readonly fileState: (key: string) => Promise<DemoFileState>;
  readonly now?: Date;
}): Promise<ChosenSession> {
  const { dataDir, plan } = options;
  const previous = options.fresh ? undefined : await readSession(dataDir);
  let note: string | undefined;
  if (previous && !samePlan(previous, plan)) {
    note = `Other options than the earlier demo's (${previous.prefix}): replaying new files.`;
  } else if (previous) {
    const states = await Promise.all(
      Array.from({ length: previous.files }, (_, index) => options.fileState(demoFileKey(previous, index))),
    );
    const left = states.filter((state) => state !== 'finished').length;
    if (left > 0) {
      return {
        session: previous,
        continued: true,
        note:
          `Going on with the earlier demo (${previous.prefix}, started ${previous.startedAt}): ` +
          `${left} of ${previous.files} file(s) unfinished. (--fresh starts over.)`,
      };
    }
    note = `The earlier demo (${previous.prefix}) had finished: replaying new copies.`;
  }
  const now = options.now ?? new Date();
  const session: DemoSession = { ...plan, prefix: newPrefix(now), startedAt: now.toISOString() };
  await writeFile(sessionFile(dataDir), `${JSON.stringify(session, null, 2)}\n`);
  return { session, continued: false, note };
}
