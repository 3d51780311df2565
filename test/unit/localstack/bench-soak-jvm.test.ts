import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GcLogReader, jvmFigures, parseGcLog } from '../../../localstack/commands/bench-soak-jvm.ts';

// Lines as JDK 17 writes them with -Xlog:gc,gc+metaspace:file=…:uptime (copied from a real log).
const METASPACE_0 =
  '[3.480s] GC(0) Metaspace: 7680K(7872K)->7680K(7872K) NonClass: 6772K(6912K)->6772K(6912K) Class: 907K(960K)->907K(960K)';
const YOUNG_0 = '[3.481s] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 6M->3M(64M) 13.857ms';
const YOUNG_1 = '[5.211s] GC(1) Pause Young (Normal) (G1 Evacuation Pause) 120M->40M(256M) 8.006ms';
const REMARK_2 = '[6.100s] GC(2) Pause Remark 90M->35M(256M) 2.100ms';
const FULL_3 = '[9.000s] GC(3) Pause Full (System.gc()) 1G->512M(1G) 80.000ms';

describe('bench soak: the broker JVM’s GC log', () => {
  it('reads each pause’s heap used before → after (committed) and the metaspace committed', () => {
    const state = parseGcLog(
      [
        '[0.005s] Using G1',
        METASPACE_0,
        YOUNG_0,
        YOUNG_1,
        REMARK_2,
        FULL_3,
        '[9.1s] GC(4) Concurrent Mark',
      ].join('\n'),
    );
    expect(state.pauses).toEqual([
      { uptimeSeconds: 3.481, kind: 'Young (Normal)', usedBeforeMiB: 6, usedAfterMiB: 3, committedMiB: 64 },
      {
        uptimeSeconds: 5.211,
        kind: 'Young (Normal)',
        usedBeforeMiB: 120,
        usedAfterMiB: 40,
        committedMiB: 256,
      },
      { uptimeSeconds: 6.1, kind: 'Remark', usedBeforeMiB: 90, usedAfterMiB: 35, committedMiB: 256 },
      { uptimeSeconds: 9, kind: 'Full', usedBeforeMiB: 1024, usedAfterMiB: 512, committedMiB: 1024 },
    ]);
    expect(state.metaspaceCommittedMiB).toBeCloseTo(7872 / 1024, 6);
  });

  it('gives a sample the lowest heap after GC since the last sample, the committed heap and the rest of RssAnon', () => {
    const { pauses } = parseGcLog([YOUNG_1, REMARK_2].join('\n'));
    expect(jvmFigures(pauses, { lastPause: undefined, metaspaceCommittedMiB: 30 }, 400)).toEqual({
      'jvm heap used after GC (lowest since last sample)': 35,
      'jvm heap committed': 256,
      'jvm metaspace committed': 30,
      'jvm private beyond heap committed': 144,
    });
    // No collection since: the last one's figures stand.
    expect(jvmFigures([], { lastPause: pauses[0], metaspaceCommittedMiB: undefined }, undefined)).toEqual({
      'jvm heap used after GC (lowest since last sample)': 40,
      'jvm heap committed': 256,
    });
    expect(jvmFigures([], { lastPause: undefined, metaspaceCommittedMiB: 30 }, 400)).toEqual({});
  });
});

describe('bench soak: reading the GC log as the JVM writes it', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads only complete lines, each once, and starts over when the log is rotated', async () => {
    dir = await mkdtemp(join(tmpdir(), 'soak-gc-'));
    const file = join(dir, 'gc.log');
    const reader = new GcLogReader(file);
    expect(await reader.sample(100)).toEqual({}); // no log yet
    await writeFile(file, `${METASPACE_0}\n${YOUNG_1.slice(0, 40)}`);
    expect(await reader.sample(300)).toEqual({});
    await appendFile(file, `${YOUNG_1.slice(40)}\n`);
    expect(await reader.sample(300)).toMatchObject({
      'jvm heap committed': 256,
      'jvm private beyond heap committed': 44,
    });
    expect(reader.pauses).toHaveLength(1);
    await writeFile(file, `${YOUNG_0}\n`); // rotated: a new, shorter file
    expect(await reader.sample(100)).toMatchObject({
      'jvm heap used after GC (lowest since last sample)': 3,
    });
    expect(reader.pauses.map((pause) => pause.committedMiB)).toEqual([256, 64]);
  });
});
