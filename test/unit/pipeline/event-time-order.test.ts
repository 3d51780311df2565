/**
 * The event-time sort behind `order=event-time` (shared/pipeline/replay/event-time-order.ts): a
 * stable sort (event time, then file position), the same stream whatever the chunking, run sizes or
 * merge passes, temporary files always removed; and the length-prefixed framing it hands to replay.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDt } from '../../../shared/analyses/dt/generator.ts';
import { dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import { orbitOfTextRow } from '../../../shared/analyses/dt/row-parser.ts';
import { sfAnalysis } from '../../../shared/analyses/sf/index.ts';
import { ObjectFormatError } from '../../../shared/core/analysis.ts';
import { analyzeOffline } from '../../../shared/pipeline/offline-analysis.ts';
import {
  DEFAULT_SORT_LIMITS,
  type SortLimits,
  SortStopped,
  sortByEventTime,
  sortMemoryBound,
} from '../../../shared/pipeline/replay/event-time-order.ts';
import { eventTimeOf, objectRows } from '../../../shared/pipeline/replay/event-time-replay.ts';
import {
  LengthPrefixedFramer,
  lengthPrefixed,
  lengthPrefixedSize,
} from '../../../shared/pipeline/replay/length-prefixed.ts';
import { concat, testRandom } from '../dt/fixtures.ts';
import { bytes, call, chunked, text } from '../sf/fixtures.ts';

let tempDir: string;
beforeAll(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'driftline-sort-test-'));
});
afterAll(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

async function* fromArray(rows: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* rows;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** Rows `<key>:<index>` with many equal keys and some without a key ('-'). */
function keyedRows(count: number, seed: number): Uint8Array[] {
  const random = testRandom(seed);
  return Array.from({ length: count }, (_, index) => {
    const key = random() < 0.1 ? '-' : String(Math.floor(random() * 50));
    return bytes(`${key}:${index}:${'x'.repeat(Math.floor(random() * 40))}`);
  });
}

function keyOf(row: Uint8Array): number | undefined {
  const key = text(row).split(':')[0] ?? '-';
  return key === '-' ? undefined : Number(key);
}

/** The expected order, computed independently: rows without a key first, then by key, ties by index. */
function reference(rows: readonly Uint8Array[]): string[] {
  return rows
    .map((row, index) => ({ row: text(row), key: keyOf(row) ?? Number.NEGATIVE_INFINITY, index }))
    .sort((a, b) => a.key - b.key || a.index - b.index)
    .map(({ row }) => row);
}

const SETUPS: readonly (readonly [string, Partial<SortLimits>])[] = [
  ['in memory (one run)', {}],
  ['runs of 1 KiB on disk, merged at once', { runBytes: 1024, fanIn: 1000 }],
  ['runs of 7 rows, merged two at a time (many passes)', { runRows: 7, fanIn: 2, chunkBytes: 16 }],
  ['runs of 100 rows, fan-in 3, tiny read buffers', { runRows: 100, fanIn: 3, chunkBytes: 1 }],
];

async function tempEntries(): Promise<string[]> {
  return readdir(tempDir);
}

describe('sortByEventTime: a stable sort in bounded memory', () => {
  it.each(SETUPS)(
    '%s: rows by (event time, file position), rows without a time first',
    async (_name, limits) => {
      // Arrange
      const rows = keyedRows(1_500, 7);

      // Act
      const sorted = await sortByEventTime(fromArray(rows), { eventTimeMs: keyOf, limits, tempDir });
      const out = (await collect(sorted.rows())).map(text);

      // Assert
      expect(out).toEqual(reference(rows));
      expect(sorted.rowCount).toBe(rows.length);
      expect(sorted.rowBytes).toBe(rows.reduce((sum, row) => sum + row.length, 0));
      expect(await tempEntries()).toEqual([]);
    },
  );

  it('the same stream whatever the limits: runs, fan-in and buffers never change the order', async () => {
    const rows = keyedRows(1_000, 11);
    const streams = await Promise.all(
      SETUPS.map(async ([, limits]) => {
        const sorted = await sortByEventTime(fromArray(rows), { eventTimeMs: keyOf, limits, tempDir });
        return (await collect(sorted.rows())).map(text);
      }),
    );
    for (const stream of streams.slice(1)) expect(stream).toEqual(streams[0]);
  });

  it('sf calls framed from any chunking of the object sort to the same rows, ascending by call_date_time', async () => {
    // Arrange: newest first, as the real file, with ties (same minute) and a call without a time.
    const calls = [
      call({ time: '10:05', crimeId: 'a' }),
      call({ time: '10:05', crimeId: 'b' }),
      call({ time: '09:00', crimeId: 'c' }),
      call({ time: '10:05', crimeId: 'd' }),
      call({ time: 'not a time T', crimeId: 'e' }),
      call({ time: '08:59', crimeId: 'f' }),
    ];
    const object = bytes(`[\n  ${calls.join(',\n  ')}\n]\n`);
    const eventTimeMs = eventTimeOf(sfAnalysis, 'text');

    // Act
    const orders = [];
    for (const size of [1, 7, 64, object.length]) {
      const { framer } = sfAnalysis.replay.framerFor('sf/calls.json');
      const rows = objectRows(fromArray(chunked(object, size)), { framer, gzipped: false });
      const sorted = await sortByEventTime(rows, { eventTimeMs, limits: { runRows: 2, fanIn: 2 }, tempDir });
      orders.push((await collect(sorted.rows())).map((row) => JSON.parse(text(row)).crime_id));
    }

    // Assert
    for (const order of orders) expect(order).toEqual(['e', 'f', 'c', 'a', 'b', 'd']);
  });

  it('stopping the stream early removes the run files', async () => {
    const sorted = await sortByEventTime(fromArray(keyedRows(500, 3)), {
      eventTimeMs: keyOf,
      limits: { runRows: 50 },
      tempDir,
    });
    expect(sorted.runsOnDisk).toBe(10);
    expect(await tempEntries()).toHaveLength(1);
    for await (const _row of sorted.rows()) break;
    expect(await tempEntries()).toEqual([]);
  });

  it('a source that fails, or an object that cannot be framed, leaves no file behind', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield* keyedRows(200, 5);
      throw new ObjectFormatError('broken at row 200');
    }
    await expect(
      sortByEventTime(failing(), { eventTimeMs: keyOf, limits: { runRows: 20 }, tempDir }),
    ).rejects.toThrow(ObjectFormatError);
    expect(await tempEntries()).toEqual([]);
  });

  it('onRun answering false stops the sort (a lease lost) and removes its files', async () => {
    const seen: number[] = [];
    const stop = sortByEventTime(fromArray(keyedRows(300, 9)), {
      eventTimeMs: keyOf,
      limits: { runRows: 100 },
      tempDir,
      onRun: async (rowsRead) => {
        seen.push(rowsRead);
        return rowsRead < 200;
      },
    });
    await expect(stop).rejects.toThrow(SortStopped);
    expect(seen).toEqual([100, 200]);
    expect(await tempEntries()).toEqual([]);
  });

  it('states its memory bound: about 9.3 MiB of buffers with the defaults', () => {
    expect(sortMemoryBound(DEFAULT_SORT_LIMITS) / 2 ** 20).toBeCloseTo(9.31, 2);
  });
});

describe('length-prefixed rows: what the sorted stream is handed to replay as', () => {
  it('gives the rows back byte for byte from any chunking', async () => {
    const rows = [bytes(''), bytes('a'), ...keyedRows(300, 1), new Uint8Array(70_000).fill(0x61)];
    const stream = concat(await collect(lengthPrefixed(fromArray(rows), 1000)));
    expect(stream.length).toBe(
      lengthPrefixedSize(
        rows.length,
        rows.reduce((sum, row) => sum + row.length, 0),
      ),
    );
    for (const size of [1, 3, 4096, stream.length]) {
      const framer = new LengthPrefixedFramer();
      const out = chunked(stream, size).flatMap((chunk) => framer.push(chunk));
      out.push(...framer.end());
      expect(out.map(text)).toEqual(rows.map(text));
    }
  });

  it('a stream that ends inside a row is a format error', () => {
    const framer = new LengthPrefixedFramer();
    framer.push(Uint8Array.of(0, 0, 0, 9, 1, 2));
    expect(() => framer.end()).toThrow(ObjectFormatError);
  });
});

describe('dt: why order=event-time is refused', () => {
  it('a generated telescope file sorted by ORBIT_CNT gives the same cumulative summary as the file as it is', async () => {
    // Arrange: the generator reorders rows locally, as the DAQ does (dt.md: rows are NOT sorted).
    const file = concat([...generateDt({ rows: 60_000, seed: 12, format: 'csv' })]);
    const lines = text(file).split('\n');
    const header = lines[0] ?? '';
    const dataLines = lines.slice(1).filter((line) => line.length > 0);
    const orbits = dataLines.map((line) => orbitOfTextRow(bytes(line)));
    expect(orbits.some((orbit, index) => index > 0 && orbit < (orbits[index - 1] ?? 0))).toBe(true);
    const sorted = await sortByEventTime(fromArray(dataLines.map((line) => bytes(line))), {
      eventTimeMs: (row) => orbitOfTextRow(row),
      limits: { runRows: 5_000 },
      tempDir,
    });
    const sortedFile = bytes(`${header}\n${(await collect(sorted.rows())).map(text).join('\n')}\n`);

    // Act
    const asIs = await collect(
      analyzeOffline({ analysis: dtAnalysis, fileName: 'a.csv', bytes: fromArray([file]) }),
    );
    const byOrbit = await collect(
      analyzeOffline({ analysis: dtAnalysis, fileName: 'a.csv', bytes: fromArray([sortedFile]) }),
    );

    // Assert
    expect(byOrbit.at(-1)?.cumulative).toEqual(asIs.at(-1)?.cumulative);
    expect(asIs.at(-1)?.cumulative.late_hits).toBe(0);
  });
});
