import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  chooseDemoSession,
  type DemoFileState,
  type DemoPlan,
  demoFileKey,
} from '../../../localstack/commands/demo-session.ts';

const PLAN: DemoPlan = { files: 3, rows: 1_300_000, seed: 1, rate: 1000, rowsPerRecord: 1 };
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-demo-session-'));
  dirs.push(dir);
  return dir;
}

/** The earlier demo, started at 2026-12-01 07:26:00 (prefix dt/demo-20261201-072600/). */
async function earlierDemo(dir: string, plan: DemoPlan = PLAN) {
  return chooseDemoSession({
    dataDir: dir,
    plan,
    fresh: false,
    fileState: async () => 'not-uploaded',
    now: new Date('2026-12-01T07:26:00Z'),
  });
}

const later = new Date('2026-12-01T07:40:00Z');
const states =
  (byIndex: readonly DemoFileState[]) =>
  async (key: string): Promise<DemoFileState> =>
    byIndex[Number(/telescope-(\d+)\.csv$/.exec(key)?.[1]) - 1] ?? 'not-uploaded';

describe('chooseDemoSession', () => {
  it('a first demo gets new files under a prefix of its own, recorded in the data folder', async () => {
    const dir = await dataDir();
    const chosen = await earlierDemo(dir);
    expect(chosen).toMatchObject({ continued: false, note: undefined });
    expect(chosen.session.prefix).toBe('dt/demo-20261201-072600/');
    expect(demoFileKey(chosen.session, 0)).toBe('dt/demo-20261201-072600/telescope-1.csv');
    expect(JSON.parse(await readFile(join(dir, 'demo-session.json'), 'utf8'))).toMatchObject({ ...PLAN });
  });

  it('a second start with the same options goes on with the unfinished earlier demo', async () => {
    const dir = await dataDir();
    await earlierDemo(dir);
    const chosen = await chooseDemoSession({
      dataDir: dir,
      plan: PLAN,
      fresh: false,
      fileState: states(['unfinished', 'finished', 'not-uploaded']),
      now: later,
    });
    expect(chosen.continued).toBe(true);
    expect(chosen.session.prefix).toBe('dt/demo-20261201-072600/');
    expect(chosen.note).toMatch(
      /^Going on with the earlier demo \(dt\/demo-20261201-072600\/.*2 of 3 file\(s\) unfinished/,
    );
  });

  it('new files when the earlier demo had finished, when the options differ, or with --fresh', async () => {
    const dir = await dataDir();
    await earlierDemo(dir);
    const finished = await chooseDemoSession({
      dataDir: dir,
      plan: PLAN,
      fresh: false,
      fileState: states(['finished', 'finished', 'finished']),
      now: later,
    });
    expect(finished).toMatchObject({ continued: false, session: { prefix: 'dt/demo-20261201-074000/' } });
    expect(finished.note).toMatch(/had finished: replaying new copies/);

    const other = await chooseDemoSession({
      dataDir: dir,
      plan: { ...PLAN, rate: 2000 },
      fresh: false,
      fileState: states(['unfinished']),
      now: new Date('2026-12-01T07:50:00Z'),
    });
    expect(other).toMatchObject({ continued: false, session: { rate: 2000 } });
    expect(other.note).toMatch(/^Other options than the earlier demo's/);

    const fresh = await chooseDemoSession({
      dataDir: dir,
      plan: { ...PLAN, rate: 2000 },
      fresh: true,
      fileState: states(['unfinished']),
      now: new Date('2026-12-01T08:00:00Z'),
    });
    expect(fresh).toMatchObject({
      continued: false,
      note: undefined,
      session: { prefix: 'dt/demo-20261201-080000/' },
    });
  });
});
