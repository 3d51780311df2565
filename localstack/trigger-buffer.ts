/**
 * The buffering policy of a stream trigger: per-partition buffers, when an event is due, what it
 * holds, and where each partition continues. Free of Kafka and clocks (time is passed in), and of
 * the record format (a record is an offset plus the size given by `sizeOf`), so the rules can be
 * tested on plain arrays.
 */

/** What the buffer needs of a record: its position in its partition. */
export interface LogRecord {
  readonly offset: number;
}

export interface BatchLimits {
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  readonly maxPayloadBytes: number;
  /**
   * A partition's buffer is also full at this many bytes (at least one record is always taken).
   * Unset: records alone bound it.
   */
  readonly maxBufferedBytes?: number;
  /**
   * All partitions' buffers together: once they hold this many bytes, a partition is full at its
   * fair share (this over the number of partitions), so the memory held does not grow with the
   * number of partitions (about twice this at most), and one partition whose batch fails and is
   * retried, its later records piling up, cannot starve the others. Unset: no bound over all.
   */
  readonly maxTotalBufferedBytes?: number;
}

/** Records of one event, per partition, each list in offset order. */
export interface TakenBatch<R extends LogRecord = LogRecord> {
  readonly partitions: readonly {
    readonly partition: number;
    readonly records: readonly R[];
    /** When the first of `records` was taken in from the fetch (the `now` given to `accept`). */
    readonly firstArrivedAt: number;
  }[];
  readonly recordCount: number;
}

/** A partition as the buffer sees it, for a trigger's stats. */
export interface PartitionStats {
  readonly partition: number;
  /** The offset this trigger last committed for the partition (the next one to process). */
  readonly committedOffset: number | undefined;
  readonly bufferedRecords: number;
  readonly inFlight: boolean;
  readonly paused: boolean;
  /** The partition's end offset as of the last fetch. */
  readonly highWatermark: number | undefined;
  /** Records not yet processed successfully, as of the last fetch. */
  readonly lag: number | undefined;
}

interface BufferedRecord<R> {
  readonly record: R;
  readonly arrivedAt: number;
  readonly bytes: number;
}

interface PartitionLane<R> {
  readonly partition: number;
  buffer: BufferedRecord<R>[];
  /** The sum of `bytes` over `buffer`, kept as records come and go (summing on every look is O(n²)). */
  bufferedBytes: number;
  /** Just after the last record taken from Kafka: where fetching continues. Undefined: from the commit. */
  nextOffset: number | undefined;
  /** The first record not yet processed successfully. */
  pendingOffset: number | undefined;
  committedOffset: number | undefined;
  highWatermark: number | undefined;
  /** An event holding this partition is being invoked or committed. */
  inFlight: boolean;
}

/**
 * The trigger's buffers and batching rules. `sizeOf` gives a record's share of the event payload,
 * measured once when the record is accepted.
 */
export class TriggerBuffer<R extends LogRecord> {
  private readonly lanes = new Map<number, PartitionLane<R>>();
  /** The sum of `bufferedBytes` over the lanes. */
  private totalBufferedBytes = 0;

  constructor(
    private readonly limits: BatchLimits,
    private readonly sizeOf: (record: R) => number,
  ) {}

  private lane(partition: number): PartitionLane<R> {
    let lane = this.lanes.get(partition);
    if (!lane) {
      lane = {
        partition,
        buffer: [],
        bufferedBytes: 0,
        nextOffset: undefined,
        pendingOffset: undefined,
        committedOffset: undefined,
        highWatermark: undefined,
        inFlight: false,
      };
      this.lanes.set(partition, lane);
    }
    return lane;
  }

  /**
   * Takes fetched records of one partition, in offset order: skips those already taken (a fetch
   * after a rebalance may overlap), stops once the partition's buffer is full (`isFull`). Returns
   * where fetching must continue and whether the buffer is full (then it should be paused).
   */
  accept(
    partition: number,
    records: readonly R[],
    now: number,
    highWatermark?: number,
  ): { readonly resumeFrom: number | undefined; readonly full: boolean } {
    const lane = this.lane(partition);
    if (highWatermark !== undefined) lane.highWatermark = highWatermark;
    for (const record of records) {
      if (lane.nextOffset !== undefined && record.offset < lane.nextOffset) continue;
      if (this.laneIsFull(lane)) break;
      const bytes = this.sizeOf(record);
      lane.buffer.push({ record, arrivedAt: now, bytes });
      lane.bufferedBytes += bytes;
      this.totalBufferedBytes += bytes;
      lane.nextOffset = record.offset + 1;
      lane.pendingOffset ??= record.offset;
    }
    return { resumeFrom: lane.nextOffset, full: this.isFull(partition) };
  }

  /** `batchSize` records, or `maxBufferedBytes` of them, or its share of `maxTotalBufferedBytes` (when set). */
  isFull(partition: number): boolean {
    const lane = this.lanes.get(partition);
    return lane !== undefined && this.laneIsFull(lane);
  }

  private laneIsFull(lane: PartitionLane<R>): boolean {
    const {
      batchSize,
      maxBufferedBytes = Number.POSITIVE_INFINITY,
      maxTotalBufferedBytes = Number.POSITIVE_INFINITY,
    } = this.limits;
    if (lane.buffer.length >= batchSize || lane.bufferedBytes >= maxBufferedBytes) return true;
    return (
      this.totalBufferedBytes >= maxTotalBufferedBytes &&
      lane.bufferedBytes >= maxTotalBufferedBytes / this.lanes.size
    );
  }

  /**
   * The event to deliver now, if one is due: from partitions not in flight, `batchSize` records
   * waiting, or the oldest one waiting for the whole window, or a payload at the size limit.
   * Otherwise when to look again (undefined: when more records arrive or a batch settles).
   */
  next(now: number): { readonly batch: TakenBatch<R> } | { readonly wakeAt: number | undefined } {
    const candidates = [...this.lanes.values()].filter((lane) => !lane.inFlight && lane.buffer.length > 0);
    if (candidates.length === 0) return { wakeAt: undefined };
    let waiting = 0;
    let waitingBytes = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (const lane of candidates) {
      waiting += lane.buffer.length;
      waitingBytes += lane.bufferedBytes;
      oldest = Math.min(oldest, lane.buffer[0]?.arrivedAt ?? oldest);
    }
    const windowEnd = oldest + this.limits.batchingWindowMs;
    const due =
      waiting >= this.limits.batchSize || waitingBytes >= this.limits.maxPayloadBytes || now >= windowEnd;
    if (!due) return { wakeAt: windowEnd };
    return { batch: this.take(candidates) };
  }

  /** Takes a due event from `candidates` (partitions not in flight, with records waiting). */
  private take(candidates: PartitionLane<R>[]): TakenBatch<R> {
    // Oldest records first, so that no partition starves when several compete for one event.
    candidates.sort(
      (a, b) => (a.buffer[0]?.arrivedAt ?? 0) - (b.buffer[0]?.arrivedAt ?? 0) || a.partition - b.partition,
    );
    const partitions: { partition: number; records: R[]; firstArrivedAt: number }[] = [];
    let count = 0;
    let bytes = 0;
    let cutBySize = false;
    for (const lane of candidates) {
      let taken = 0;
      let takenBytes = 0;
      for (const buffered of lane.buffer) {
        if (count >= this.limits.batchSize) break;
        // The first record always goes, even alone over the limit (AWS would fail it; we deliver it).
        if (count > 0 && bytes + buffered.bytes > this.limits.maxPayloadBytes) {
          cutBySize = true;
          break;
        }
        bytes += buffered.bytes;
        takenBytes += buffered.bytes;
        count++;
        taken++;
      }
      const first = lane.buffer[0];
      if (taken > 0 && first) {
        partitions.push({
          partition: lane.partition,
          records: lane.buffer.slice(0, taken).map((buffered) => buffered.record),
          firstArrivedAt: first.arrivedAt,
        });
        lane.buffer = lane.buffer.slice(taken);
        lane.bufferedBytes -= takenBytes;
        this.totalBufferedBytes -= takenBytes;
        lane.inFlight = true;
      }
      if (cutBySize || count >= this.limits.batchSize) break;
    }
    return { partitions, recordCount: count };
  }

  /** The offsets to commit once `batch` succeeded: for each partition, the one after its last record. */
  static commitsFor(batch: TakenBatch): { readonly partition: number; readonly offset: number }[] {
    return batch.partitions.flatMap(({ partition, records }) => {
      const last = records[records.length - 1];
      return last ? [{ partition, offset: last.offset + 1 }] : [];
    });
  }

  /**
   * What the trigger must keep of a batch while it is delivered: each partition's first and last
   * offset (for its commit, its logs, its release). The records themselves (the MSK trigger's JSON
   * texts, up to one event's payload) are already in the event, and need not be held twice.
   */
  static positionsOf(batch: TakenBatch): TakenBatch {
    return {
      partitions: batch.partitions.map(({ partition, records, firstArrivedAt }) => {
        const first = records[0];
        const last = records[records.length - 1];
        const ends = first && last ? [{ offset: first.offset }, { offset: last.offset }] : [];
        return { partition, records: ends, firstArrivedAt };
      }),
      recordCount: batch.recordCount,
    };
  }

  /** After a success (and its commit): the partitions are free again, and their records processed. */
  succeeded(batch: TakenBatch, committed: boolean): void {
    for (const { partition, offset } of TriggerBuffer.commitsFor(batch)) {
      const lane = this.lane(partition);
      lane.inFlight = false;
      lane.pendingOffset = lane.buffer[0]?.record.offset ?? lane.nextOffset ?? offset;
      if (committed) lane.committedOffset = offset;
    }
  }

  /** Only while stopping: the batch is given up uncommitted, so the group redelivers it next time. */
  abandoned(batch: TakenBatch): void {
    for (const { partition } of batch.partitions) this.lane(partition).inFlight = false;
  }

  /**
   * After a rebalance: partitions no longer assigned lose their buffers and their fetch position
   * (if assigned again, fetching starts from the group's commit). Returns where each still-assigned
   * partition must continue, since kafkajs itself would restart from the commit and fetch records
   * that are already buffered or in flight.
   */
  reassigned(assigned: ReadonlySet<number>): { readonly partition: number; readonly offset: number }[] {
    const positions: { partition: number; offset: number }[] = [];
    for (const lane of this.lanes.values()) {
      if (assigned.has(lane.partition)) {
        if (lane.nextOffset !== undefined)
          positions.push({ partition: lane.partition, offset: lane.nextOffset });
      } else {
        this.totalBufferedBytes -= lane.bufferedBytes;
        lane.buffer = [];
        lane.bufferedBytes = 0;
        lane.nextOffset = undefined;
        lane.pendingOffset = undefined;
      }
    }
    return positions;
  }

  clear(): void {
    for (const lane of this.lanes.values()) {
      lane.buffer = [];
      lane.bufferedBytes = 0;
    }
    this.totalBufferedBytes = 0;
  }

  partitionStats(paused: ReadonlySet<number>): PartitionStats[] {
    return [...this.lanes.values()]
      .sort((a, b) => a.partition - b.partition)
      .map((lane) => ({
        partition: lane.partition,
        committedOffset: lane.committedOffset,
        bufferedRecords: lane.buffer.length,
        inFlight: lane.inFlight,
        paused: paused.has(lane.partition),
        highWatermark: lane.highWatermark,
        lag:
          lane.highWatermark === undefined || lane.pendingOffset === undefined
            ? undefined
            : Math.max(0, lane.highWatermark - lane.pendingOffset),
      }));
  }
}
