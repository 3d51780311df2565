/**
 * What a million rows cost on AWS, from the handler time the bench measured: the one place the
 * prices live (the README's "What it costs per million rows" quotes these; a unit test holds the
 * two together).
 */

/** List prices, us-east-1 (eu-west-1, serverless.yml's default region, lists the same Lambda prices). */
export const PRICES = {
  region: 'us-east-1',
  /** Lambda arm64, per GB-second. */
  lambdaGbSecond: 0.0000133334,
  /** Lambda, per invocation ($0.20 per million). */
  lambdaInvocation: 0.2 / 1e6,
  /** DynamoDB on-demand, per write request unit (one per KB written; $0.625 per million). */
  dynamoWriteUnit: 0.625 / 1e6,
} as const;

/**
 * The source system's always-on Spark cluster, as assumed here: EMR on EC2, 1 primary + 3 core
 * nodes (its dt job ran on 3 workers), m5.xlarge on demand: EC2 $0.192 + EMR $0.048 per node-hour.
 */
export const SPARK_CLUSTER = {
  description: 'EMR, 1 primary + 3 core m5.xlarge on demand (EC2 $0.192 + EMR $0.048 per node-hour)',
  nodes: 4,
  perNodeHour: 0.192 + 0.048,
} as const;

/** Assumptions the bench cannot measure locally, stated with every printout. */
export const ASSUMPTIONS = {
  /** Write units per partition slice: rollup, summary and state items of a few KB (dt). */
  writeUnitsPerSlice: 24,
  /** A paced slice's fixed cost (state read, three writes, one Kafka send) on Lambda. */
  sliceFixedSeconds: 0.04,
  /** AWS's default batching window for Kafka triggers: a paced partition yields a slice per window. */
  batchingWindowSeconds: 0.5,
} as const;

export interface CostInputs {
  readonly rows: number;
  /** Replay handler seconds for those rows (it runs, paced or not, for the whole replay). */
  readonly replaySeconds: number;
  readonly replayMemoryMb: number;
  readonly aggregateInvocations: number;
  readonly aggregateSeconds: number;
  readonly aggregateMemoryMb: number;
  /** Partition slices over all aggregate invocations (each writes its own state). */
  readonly slices: number;
  readonly rowsPerRecord: number;
}

export interface Cost {
  readonly replayGbSeconds: number;
  readonly aggregateGbSeconds: number;
  readonly lambdaDollars: number;
  readonly invocationDollars: number;
  readonly writeUnits: number;
  readonly dynamoDollars: number;
  /** data_raw records plus one data_clean summary per slice: no per-message price on provisioned MSK. */
  readonly kafkaMessages: number;
  readonly totalDollars: number;
}

/** The variable cost of one million rows, scaled from what was measured for `inputs.rows`. */
export function costPerMillionRows(inputs: CostInputs): Cost {
  const scale = 1e6 / inputs.rows;
  const replayGbSeconds = inputs.replaySeconds * scale * (inputs.replayMemoryMb / 1024);
  const aggregateGbSeconds = inputs.aggregateSeconds * scale * (inputs.aggregateMemoryMb / 1024);
  const lambdaDollars = (replayGbSeconds + aggregateGbSeconds) * PRICES.lambdaGbSecond;
  const invocationDollars = inputs.aggregateInvocations * scale * PRICES.lambdaInvocation;
  const writeUnits = inputs.slices * scale * ASSUMPTIONS.writeUnitsPerSlice;
  const dynamoDollars = writeUnits * PRICES.dynamoWriteUnit;
  return {
    replayGbSeconds,
    aggregateGbSeconds,
    lambdaDollars,
    invocationDollars,
    writeUnits,
    dynamoDollars,
    kafkaMessages: 1e6 / inputs.rowsPerRecord + inputs.slices * scale,
    totalDollars: lambdaDollars + invocationDollars + dynamoDollars,
  };
}

/**
 * The same million rows replayed at `rate` rows/s into `partitions` partitions (the source system's
 * pace): a slice per partition per batching window (at most one per record), each costing the fixed time plus the measured
 * time per row; the replay runs for the whole 1e6 / rate seconds.
 */
export function pacedInputs(options: {
  readonly rate: number;
  readonly partitions: number;
  readonly aggregateSecondsPerRow: number;
  readonly replayMemoryMb: number;
  readonly aggregateMemoryMb: number;
  readonly rowsPerRecord: number;
}): CostInputs {
  const rows = 1e6;
  const replaySeconds = rows / options.rate;
  // A slice per partition per window, but never more slices than records (packed records are few).
  const windows = Math.ceil(replaySeconds / ASSUMPTIONS.batchingWindowSeconds);
  const slices = Math.min(windows * options.partitions, Math.ceil(rows / options.rowsPerRecord));
  return {
    rows,
    replaySeconds,
    replayMemoryMb: options.replayMemoryMb,
    // One invocation per slice: at this pace an event rarely holds two partitions.
    aggregateInvocations: slices,
    aggregateSeconds: slices * ASSUMPTIONS.sliceFixedSeconds + rows * options.aggregateSecondsPerRow,
    aggregateMemoryMb: options.aggregateMemoryMb,
    slices,
    rowsPerRecord: options.rowsPerRecord,
  };
}

/** The always-on cluster's cost of a million rows flowing at `rate` rows/s (it costs the same idle). */
export function sparkClusterPerMillionRows(rate: number): {
  perHour: number;
  perMonth: number;
  perMillionRows: number;
} {
  const perHour = SPARK_CLUSTER.nodes * SPARK_CLUSTER.perNodeHour;
  return { perHour, perMonth: perHour * 730, perMillionRows: perHour / ((rate * 3600) / 1e6) };
}

function dollars(value: number): string {
  return value >= 0.1 ? `$${value.toFixed(2)}` : `$${value.toFixed(4)}`;
}

/** The printout: one line per cost, then the assumptions. */
export function describeCost(label: string, cost: Cost): string[] {
  return [
    `cost  ${label}: ${dollars(cost.totalDollars)} per million rows = Lambda ${dollars(cost.lambdaDollars)} ` +
      `(replay ${cost.replayGbSeconds.toFixed(1)} GB-s, aggregate ${cost.aggregateGbSeconds.toFixed(1)} GB-s) + ` +
      `invocations ${dollars(cost.invocationDollars)} + DynamoDB ${dollars(cost.dynamoDollars)} ` +
      `(${Math.round(cost.writeUnits)} write units); ${Math.round(cost.kafkaMessages)} Kafka messages`,
  ];
}

export function describeAssumptions(): string {
  return (
    `cost  assumed: ${PRICES.region} list prices (Lambda arm64 $${PRICES.lambdaGbSecond} per GB-s, ` +
    `$${(PRICES.lambdaInvocation * 1e6).toFixed(2)} per million invocations; DynamoDB on-demand ` +
    `$${(PRICES.dynamoWriteUnit * 1e6).toFixed(3)} per million write units), ${ASSUMPTIONS.writeUnitsPerSlice} write units ` +
    `per partition slice, ${ASSUMPTIONS.sliceFixedSeconds * 1000} ms fixed per paced slice, local handler time = ` +
    "Lambda's; MSK (provisioned) bills by the broker-hour, not per message"
  );
}
