/**
 * Packs rows into data_raw records, one buffer per partition: a buffer becomes a record when it holds
 * `rowsPerRecord` rows, or when the replay flushes at a checkpoint. Packing depends only on the rows
 * and the checkpoint cuts, never on timing, so a resumed replay produces byte-identical records
 * under the same sequence numbers (which aggregate then applies once).
 */
import type { OutgoingMessage } from '../ports.ts';

export interface PackerOptions {
  readonly partitions: number;
  readonly rowsPerRecord: number;
  /** Next sequence number per partition (from the checkpoint); advanced as records are made. */
  readonly sequences: number[];
  /** The record's value for a buffer's rows. */
  readonly pack: (rows: readonly Uint8Array[]) => Uint8Array;
  /** The record's headers (its origin) for a sequence number. */
  readonly headersFor: (sequence: number) => Readonly<Record<string, string>>;
}

export class PartitionPacker {
  private readonly buffers: Uint8Array[][];
  private readonly bufferKeys: (string | undefined)[];
  private pending: OutgoingMessage[] = [];
  private pendingRowCount = 0;

  constructor(private readonly options: PackerOptions) {
    this.buffers = Array.from({ length: options.partitions }, () => []);
    this.bufferKeys = new Array(options.partitions).fill(undefined);
  }

  /** Adds a row to its partition's buffer; a full buffer becomes a pending record. */
  add(partition: number, key: string | undefined, row: Uint8Array): void {
    const buffer = this.buffers[partition];
    if (!buffer) throw new Error(`partition ${partition} out of range`);
    if (buffer.length === 0) this.bufferKeys[partition] = key;
    // Copy: framers may hand out views into a chunk that is reused.
    buffer.push(row.slice());
    if (buffer.length >= this.options.rowsPerRecord) this.emit(partition);
  }

  /** Every non-empty buffer becomes a pending record (at a checkpoint, or at the end). */
  flushAll(): void {
    for (let partition = 0; partition < this.options.partitions; partition++) this.emit(partition);
  }

  get pendingRecords(): number {
    return this.pending.length;
  }

  get pendingRows(): number {
    return this.pendingRowCount;
  }

  /** Hands over the pending records and the number of rows in them. */
  takePending(): { readonly messages: OutgoingMessage[]; readonly rows: number } {
    const taken = { messages: this.pending, rows: this.pendingRowCount };
    this.pending = [];
    this.pendingRowCount = 0;
    return taken;
  }

  private emit(partition: number): void {
    const rows = this.buffers[partition];
    if (!rows || rows.length === 0) return;
    const { sequences } = this.options;
    const sequence = sequences[partition] ?? 0;
    sequences[partition] = sequence + 1;
    this.pending.push({
      key: this.bufferKeys[partition],
      partition,
      value: this.options.pack(rows),
      headers: this.options.headersFor(sequence),
    });
    this.pendingRowCount += rows.length;
    this.buffers[partition] = [];
    this.bufferKeys[partition] = undefined;
  }
}
