import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ASSUMPTIONS,
  costPerMillionRows,
  PRICES,
  pacedInputs,
  SPARK_CLUSTER,
  sparkClusterPerMillionRows,
} from '../../../localstack/commands/bench-cost.ts';
import { PROJECT_ROOT } from '../../../localstack/service-definition.ts';

describe('the cost model per million rows', () => {
  it('scales the measured handler time to a million rows at the configured memory', () => {
    const cost = costPerMillionRows({
      rows: 250_000,
      replaySeconds: 10,
      replayMemoryMb: 1024,
      aggregateInvocations: 100,
      aggregateSeconds: 5,
      aggregateMemoryMb: 512,
      slices: 400,
      rowsPerRecord: 1,
    });
    // ×4 to a million rows: replay 40 s at 1 GB, aggregate 20 s at 0.5 GB.
    expect(cost.replayGbSeconds).toBeCloseTo(40);
    expect(cost.aggregateGbSeconds).toBeCloseTo(10);
    expect(cost.lambdaDollars).toBeCloseTo(50 * 0.0000133334, 10);
    expect(cost.invocationDollars).toBeCloseTo(400 * 0.2e-6, 10);
    expect(cost.writeUnits).toBe(1600 * ASSUMPTIONS.writeUnitsPerSlice);
    expect(cost.dynamoDollars).toBeCloseTo(1600 * 24 * 0.625e-6, 10);
    expect(cost.kafkaMessages).toBe(1_000_000 + 1600);
    expect(cost.totalDollars).toBeCloseTo(
      cost.lambdaDollars + cost.invocationDollars + cost.dynamoDollars,
      12,
    );
  });

  it("reproduces the README's paced example: 20,000 slices of 50 rows, about $0.32", () => {
    const inputs = pacedInputs({
      rate: 1000,
      partitions: 10,
      aggregateSecondsPerRow: 0,
      replayMemoryMb: 1024,
      aggregateMemoryMb: 512,
      rowsPerRecord: 1,
    });
    expect(inputs.slices).toBe(20_000);
    expect(inputs.replaySeconds).toBe(1000);
    const cost = costPerMillionRows(inputs);
    expect(cost.replayGbSeconds).toBeCloseTo(1000);
    expect(cost.aggregateGbSeconds).toBeCloseTo(400);
    expect(cost.dynamoDollars).toBeCloseTo(0.3, 6);
    expect(cost.totalDollars).toBeCloseTo(0.32, 2);
  });

  it('never counts more paced slices than records: 1000 rows per record at 1000 rows/s is a record a second', () => {
    const inputs = pacedInputs({
      rate: 1000,
      partitions: 10,
      aggregateSecondsPerRow: 0,
      replayMemoryMb: 1024,
      aggregateMemoryMb: 512,
      rowsPerRecord: 1000,
    });
    expect(inputs.slices).toBe(1000);
    expect(costPerMillionRows(inputs).kafkaMessages).toBe(2000);
  });

  it('prices the always-on cluster by the hour, whatever flows', () => {
    const spark = sparkClusterPerMillionRows(1000);
    expect(spark.perHour).toBeCloseTo(SPARK_CLUSTER.nodes * 0.24);
    // 3.6 million rows an hour at 1000 rows/s.
    expect(spark.perMillionRows).toBeCloseTo(spark.perHour / 3.6);
  });

  it("quotes the same prices as the README's cost section (one source for them)", () => {
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
    // Line breaks of the Markdown source count as spaces.
    const section = readme.slice(readme.indexOf('### What it costs per million rows')).replace(/\s+/g, ' ');
    expect(section).toContain(`${PRICES.region} list prices`);
    expect(section).toContain(`$${PRICES.lambdaGbSecond} per GB-s`);
    expect(section).toContain(`$${(PRICES.lambdaInvocation * 1e6).toFixed(2)} per million invocations`);
    expect(section).toContain(
      `$${(PRICES.dynamoWriteUnit * 1e6).toFixed(3)} per million write request units`,
    );
    expect(section).toContain(`w ≈ ${ASSUMPTIONS.writeUnitsPerSlice}`);
    expect(section).toContain(`assumed ${ASSUMPTIONS.sliceFixedSeconds * 1000} ms`);
    expect(section).toContain(SPARK_CLUSTER.description);
  });
});
