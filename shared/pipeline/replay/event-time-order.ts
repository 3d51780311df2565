/**
 * Event-time order for replay (S3 metadata `order=event-time`): the rows of an object sorted by event
 * time ascending, in bounded memory, whatever the object's size. An external merge sort:
 *
 *   rows ─▶ runs of at most `runBytes` of row bytes and `runRows` rows, each sorted in memory and
 *   written to a temporary file ─▶ (more than `fanIn` runs: merged `fanIn` at a time into longer runs,
 *   until at most `fanIn` are left) ─▶ merged while the replay reads them: rows in event-time order.
 *
 * **Deterministic.** The order is (event time, position in the file): a stable sort. Rows without an
 * event time come first, in file order. It depends on the rows only, never on how the object was
 * chunked, on the run sizes or on timing: runs are consecutive stretches of the file, so a tie between
 * runs goes to the earlier run, which holds the earlier rows. A resumed replay skips the first N rows
 * of this stream, as in file order, and so skips exactly the rows an earlier invocation sent.
 *
 * **Memory bound**, with the defaults: while runs are cut, one run's row bytes (8 MiB), its index (20
 * bytes a row, at most 65,536 rows: 1.25 MiB) and a write buffer (64 KiB); while merging, one read
 * buffer per merged run (64 KiB, at most 32 runs at once) and a write buffer: 2.1 MiB. So at most
 * 9.3 MiB of buffers at any time (`sortMemoryBound`), independent of the object's size. A row longer than a read buffer (sf: at most 64 KiB) grows
 * that buffer to fit it. The rows themselves are held by whoever consumes the stream, as in file order.
 *
 * **Disk:** the runs hold every row plus 12 bytes (temporary directory, removed when the stream ends,
 * is stopped, or fails); an intermediate merge pass holds its inputs and its output for a moment, so at
 * most twice that. On Lambda that is /tmp (512 MB by default, up to 10 GB).
 *
 * Everything fits in one run (small objects): sorted in memory, no file at all.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SortLimits {
  /** Row bytes of one run held in memory (the run's arena). */
  readonly runBytes: number;
  /** Rows of one run. */
  readonly runRows: number;
  /** Runs merged at once. */
  readonly fanIn: number;
  /** Read buffer per run while merging, and the write buffer. */
  readonly chunkBytes: number;
}

export const DEFAULT_SORT_LIMITS: SortLimits = {
  runBytes: 8 * 1024 * 1024,
  runRows: 65_536,
  fanIn: 32,
  chunkBytes: 64 * 1024,
};

/** The buffers the sort holds at most (the bound stated above), for given limits. */
export function sortMemoryBound(limits: SortLimits = DEFAULT_SORT_LIMITS): number {
  const cutting = limits.runBytes + limits.runRows * 20 + limits.chunkBytes;
  const merging = (limits.fanIn + 1) * limits.chunkBytes;
  return Math.max(cutting, merging);
}

export interface EventTimeSortOptions {
  /** A row's event time (ms), or undefined when it has none (such rows sort first). */
  readonly eventTimeMs: (row: Uint8Array) => number | undefined;
  readonly limits?: Partial<SortLimits>;
  /** Where the temporary run files go (default: the system's temporary directory). */
  readonly tempDir?: string;
  /**
   * Awaited after each run is written, with the rows read so far: a long sort keeps its lease
   * through it. Returning false stops the sort (its files are removed) with SortStopped.
   */
  readonly onRun?: (rowsRead: number) => Promise<boolean>;
}

/** The sort was stopped by `onRun`. */
export class SortStopped extends Error {
  override readonly name = 'SortStopped';
}

/** The rows of an object, sorted, ready to be read once. */
export interface SortedRows {
  /** Rows in the object. */
  readonly rowCount: number;
  /** Bytes of all rows (without any framing). */
  readonly rowBytes: number;
  /** Runs written to disk (0: sorted in memory). */
  readonly runsOnDisk: number;
  /** The rows in event-time order. Read once; stopping early (break, return) removes the files too. */
  rows(): AsyncGenerator<Uint8Array>;
  /** Removes the temporary files without reading (when the rows will not be read after all). */
  discard(): Promise<void>;
}

/** Sort key of a row with no event time: before every real time. */
const NO_EVENT_TIME = Number.NEGATIVE_INFINITY;
/** Run file entry: key (float64 LE), row length (uint32 LE), row bytes. */
const ENTRY_HEADER_BYTES = 12;

function limitsOf(partial: Partial<SortLimits> | undefined): SortLimits {
  const limits = { ...DEFAULT_SORT_LIMITS, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    if (!(Number.isSafeInteger(value) && value >= 1)) throw new RangeError(`sort ${name} must be ≥ 1`);
  }
  if (limits.fanIn < 2) throw new RangeError('sort fanIn must be ≥ 2');
  return limits;
}

/** One run being cut: row bytes copied into an arena, keys and places in typed arrays. */
class RunBuffer {
  private arena: Uint8Array;
  private readonly keys: Float64Array;
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;
  private used = 0;
  count = 0;

  constructor(private readonly limits: SortLimits) {
    this.arena = new Uint8Array(limits.runBytes);
    this.keys = new Float64Array(limits.runRows);
    this.offsets = new Uint32Array(limits.runRows);
    this.lengths = new Uint32Array(limits.runRows);
  }

  /** Whether `bytes` more fit; an empty run always takes a row (its arena grows for a huge one). */
  fits(bytes: number): boolean {
    return this.count === 0 || (this.count < this.limits.runRows && this.used + bytes <= this.arena.length);
  }

  add(key: number, row: Uint8Array): void {
    if (row.length > this.arena.length) this.arena = new Uint8Array(row.length);
    this.arena.set(row, this.used);
    this.keys[this.count] = key;
    this.offsets[this.count] = this.used;
    this.lengths[this.count] = row.length;
    this.used += row.length;
    this.count += 1;
  }

  /** Entry indices in (key, position) order: a stable sort, written out so as not to rely on one. */
  sortedOrder(): Uint32Array {
    const order = new Uint32Array(this.count);
    for (let index = 0; index < this.count; index++) order[index] = index;
    const keys = this.keys;
    return order.sort((a, b) => {
      const ka = keys[a] ?? 0;
      const kb = keys[b] ?? 0;
      return ka < kb ? -1 : ka > kb ? 1 : a - b;
    });
  }

  keyAt(index: number): number {
    return this.keys[index] ?? NO_EVENT_TIME;
  }

  rowAt(index: number): Uint8Array {
    const offset = this.offsets[index] ?? 0;
    return this.arena.subarray(offset, offset + (this.lengths[index] ?? 0));
  }

  clear(): void {
    this.used = 0;
    this.count = 0;
  }
}

/** Buffered writes of run entries to one file. */
class RunWriter {
  private readonly buffer: Uint8Array;
  private readonly view: DataView;
  private filled = 0;

  private constructor(
    private readonly handle: Awaited<ReturnType<typeof open>>,
    chunkBytes: number,
  ) {
    this.buffer = new Uint8Array(Math.max(chunkBytes, ENTRY_HEADER_BYTES));
    this.view = new DataView(this.buffer.buffer);
  }

  static async create(path: string, chunkBytes: number): Promise<RunWriter> {
    return new RunWriter(await open(path, 'w'), chunkBytes);
  }

  async write(key: number, row: Uint8Array): Promise<void> {
    if (this.filled + ENTRY_HEADER_BYTES > this.buffer.length) await this.flush();
    this.view.setFloat64(this.filled, key, true);
    this.view.setUint32(this.filled + 8, row.length, true);
    this.filled += ENTRY_HEADER_BYTES;
    if (this.filled + row.length > this.buffer.length) {
      await this.flush();
      if (row.length > this.buffer.length) {
        await this.handle.write(row);
        return;
      }
    }
    this.buffer.set(row, this.filled);
    this.filled += row.length;
  }

  private async flush(): Promise<void> {
    if (this.filled === 0) return;
    await this.handle.write(this.buffer.subarray(0, this.filled));
    this.filled = 0;
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.handle.close();
    }
  }
}

/** Reads one run file entry by entry, through a buffer of `chunkBytes` (grown for a longer row). */
class RunReader {
  private buffer: Uint8Array;
  private start = 0;
  private end = 0;
  private exhausted = false;
  /** The current entry: its key and row (a view into the buffer, valid until `advance`). */
  key = NO_EVENT_TIME;
  row: Uint8Array = new Uint8Array(0);
  done = false;

  private constructor(
    private readonly handle: Awaited<ReturnType<typeof open>>,
    chunkBytes: number,
  ) {
    this.buffer = new Uint8Array(Math.max(chunkBytes, ENTRY_HEADER_BYTES));
  }

  static async open(path: string, chunkBytes: number): Promise<RunReader> {
    const reader = new RunReader(await open(path, 'r'), chunkBytes);
    await reader.advance();
    return reader;
  }

  /** Makes `bytes` bytes available from `start`; false at the end of the file. */
  private async ensure(bytes: number): Promise<boolean> {
    while (this.end - this.start < bytes) {
      if (this.exhausted) return false;
      if (bytes > this.buffer.length) {
        const grown = new Uint8Array(bytes);
        grown.set(this.buffer.subarray(this.start, this.end));
        this.buffer = grown;
      } else if (this.start > 0) {
        this.buffer.copyWithin(0, this.start, this.end);
      }
      this.end -= this.start;
      this.start = 0;
      const { bytesRead } = await this.handle.read(
        this.buffer,
        this.end,
        this.buffer.length - this.end,
        null,
      );
      if (bytesRead === 0) this.exhausted = true;
      this.end += bytesRead;
    }
    return true;
  }

  async advance(): Promise<void> {
    this.start += this.row.length;
    this.row = new Uint8Array(0);
    if (!(await this.ensure(ENTRY_HEADER_BYTES))) {
      if (this.end > this.start) throw new Error('event-time sort: a run file ends inside an entry');
      this.done = true;
      return;
    }
    const view = new DataView(this.buffer.buffer, this.buffer.byteOffset + this.start, ENTRY_HEADER_BYTES);
    this.key = view.getFloat64(0, true);
    const length = view.getUint32(8, true);
    this.start += ENTRY_HEADER_BYTES;
    if (!(await this.ensure(length))) throw new Error('event-time sort: a run file ends inside a row');
    this.row = this.buffer.subarray(this.start, this.start + length);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * Merges runs (consecutive stretches of the file, in file order) into entries in (key, run) order.
 * Ties go to the earlier run, which holds the earlier rows. A linear scan for the smallest head: with
 * at most `fanIn` (32) runs it costs less than a heap's bookkeeping.
 */
async function* mergeRuns(
  paths: readonly string[],
  chunkBytes: number,
): AsyncGenerator<{ key: number; row: Uint8Array }> {
  const readers: RunReader[] = [];
  try {
    for (const path of paths) readers.push(await RunReader.open(path, chunkBytes));
    for (;;) {
      let smallest: RunReader | undefined;
      for (const reader of readers) {
        if (reader.done) continue;
        if (smallest === undefined || reader.key < smallest.key) smallest = reader;
      }
      if (smallest === undefined) return;
      yield { key: smallest.key, row: smallest.row };
      await smallest.advance();
    }
  } finally {
    await Promise.all(readers.map((reader) => reader.close()));
  }
}

/** The run files of one sort, in a temporary directory of their own. */
class RunFiles {
  private directory: string | undefined;
  private next = 0;

  constructor(private readonly parent: string) {}

  async newPath(): Promise<string> {
    this.directory ??= await mkdtemp(join(this.parent, 'driftline-event-time-'));
    this.next += 1;
    return join(this.directory, `run-${this.next}.bin`);
  }

  async remove(paths: readonly string[]): Promise<void> {
    await Promise.all(paths.map((path) => rm(path, { force: true })));
  }

  async removeAll(): Promise<void> {
    if (this.directory !== undefined) await rm(this.directory, { recursive: true, force: true });
    this.directory = undefined;
  }
}

function keyOf(options: EventTimeSortOptions, row: Uint8Array): number {
  const ms = options.eventTimeMs(row);
  return ms === undefined || Number.isNaN(ms) ? NO_EVENT_TIME : ms;
}

/**
 * Reads every row (the object is read to its end here) and cuts the sorted runs; the merge happens
 * as `rows()` is read. A framing error of the object (ObjectFormatError) or a failing source is
 * thrown from here, with every file already removed.
 */
export async function sortByEventTime(
  rows: AsyncIterable<Uint8Array>,
  options: EventTimeSortOptions,
): Promise<SortedRows> {
  const limits = limitsOf(options.limits);
  const files = new RunFiles(options.tempDir ?? tmpdir());
  let runs: string[] = [];
  let buffer: RunBuffer | undefined = new RunBuffer(limits);
  let rowCount = 0;
  let rowBytes = 0;

  const writeRun = async (run: RunBuffer) => {
    const path = await files.newPath();
    const writer = await RunWriter.create(path, limits.chunkBytes);
    try {
      for (const index of run.sortedOrder()) await writer.write(run.keyAt(index), run.rowAt(index));
    } finally {
      await writer.close();
    }
    runs.push(path);
    run.clear();
    if (options.onRun && !(await options.onRun(rowCount))) throw new SortStopped('event-time sort stopped');
  };

  try {
    for await (const row of rows) {
      if (!buffer.fits(row.length)) await writeRun(buffer);
      buffer.add(keyOf(options, row), row);
      rowCount += 1;
      rowBytes += row.length;
    }
    if (runs.length === 0) {
      const inMemory = buffer;
      buffer = undefined;
      return inMemorySorted(inMemory, rowCount, rowBytes);
    }
    if (buffer.count > 0) await writeRun(buffer);
    buffer = undefined; // the arena is not needed while merging
    // Intermediate passes: consecutive groups of fanIn runs become one run each, order kept.
    while (runs.length > limits.fanIn) {
      const merged: string[] = [];
      for (let first = 0; first < runs.length; first += limits.fanIn) {
        const group = runs.slice(first, first + limits.fanIn);
        const path = await files.newPath();
        const writer = await RunWriter.create(path, limits.chunkBytes);
        try {
          for await (const entry of mergeRuns(group, limits.chunkBytes))
            await writer.write(entry.key, entry.row);
        } finally {
          await writer.close();
        }
        await files.remove(group);
        merged.push(path);
      }
      runs = merged;
    }
  } catch (error) {
    await files.removeAll();
    throw error;
  }
  const finalRuns = runs;
  return {
    rowCount,
    rowBytes,
    runsOnDisk: finalRuns.length,
    async *rows() {
      try {
        for await (const entry of mergeRuns(finalRuns, limits.chunkBytes)) yield entry.row.slice();
      } finally {
        await files.removeAll();
      }
    },
    discard: () => files.removeAll(),
  };
}

function inMemorySorted(run: RunBuffer, rowCount: number, rowBytes: number): SortedRows {
  return {
    rowCount,
    rowBytes,
    runsOnDisk: 0,
    async *rows() {
      for (const index of run.sortedOrder()) yield run.rowAt(index).slice();
    },
    discard: async () => {},
  };
}
