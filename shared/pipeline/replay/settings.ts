/** Per-object replay settings: S3 user metadata, else the configured defaults. */

export interface ReplayDefaults {
  readonly rowsPerRecord: number;
  readonly rate: number;
}

export interface ReplaySettings {
  readonly rowsPerRecord: number;
  readonly rate: number;
  /** Every row goes to this partition; undefined: by the analysis' partition key. */
  readonly partition: number | undefined;
  /** `event-time`: rows sorted by event time before they are sent (replay/event-time-order.ts). */
  readonly order: ReplayOrder;
}

/** The order rows are replayed in: as in the object, or sorted by event time (metadata `order`). */
export type ReplayOrder = 'file' | 'event-time';
const ORDERS: readonly ReplayOrder[] = ['file', 'event-time'];

/**
 * Per-object settings from S3 metadata, else the defaults: `rows-per-record`, `rate`,
 * `partition`, which sends every row to that one partition of data_raw (for runs that must
 * reproduce a single-partition source, e.g. the sf job's batches of 200), and `order`
 * (`file`, the default, or `event-time`).
 */
export function replaySettings(
  metadata: Readonly<Record<string, string>>,
  defaults: ReplayDefaults,
  partitions: number,
): ReplaySettings | { error: string } {
  const rowsText = metadata['rows-per-record'];
  const rateText = metadata.rate;
  const decimal = (text: string) => (/^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : Number.NaN);
  const rowsPerRecord = rowsText === undefined ? defaults.rowsPerRecord : decimal(rowsText);
  const rate = rateText === undefined ? defaults.rate : decimal(rateText);
  if (!Number.isInteger(rowsPerRecord) || rowsPerRecord < 1 || rowsPerRecord > 100_000) {
    return { error: `metadata rows-per-record "${rowsText}" must be a whole number from 1 to 100000` };
  }
  if (!Number.isFinite(rate) || rate < 0)
    return { error: `metadata rate "${rateText}" must be a number ≥ 0 (rows/s, 0 = full speed)` };
  const partitionText = metadata.partition;
  const partition = partitionText === undefined ? undefined : decimal(partitionText);
  if (partition !== undefined && (!Number.isInteger(partition) || partition >= partitions)) {
    return {
      error: `metadata partition "${partitionText}" must be a partition number from 0 to ${partitions - 1}`,
    };
  }
  const orderText = metadata.order?.trim().toLowerCase() ?? 'file';
  const order = ORDERS.find((candidate) => candidate === orderText);
  if (order === undefined) {
    return { error: `metadata order "${metadata.order}" must be "file" or "event-time"` };
  }
  return { rowsPerRecord, rate, partition, order };
}
