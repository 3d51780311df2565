import { describe, expect, it } from 'vitest';
import {
  parseConsumerPerformance,
  parseProducerPerformance,
} from '../../../localstack/commands/bench-yardstick.ts';

describe("parsing Kafka's perf tools", () => {
  it("reads ProducerPerformance's final summary, not its progress lines", () => {
    const output = [
      '2535711 records sent, 507040.0 records/sec (14.99 MB/sec), 13.2 ms avg latency, 215.0 ms max latency.',
      '1000000 records sent, 511247.443763 records/sec (15.12 MB/sec), 12.71 ms avg latency, 215.00 ms max latency, 9 ms 50th, 31 ms 95th, 47 ms 99th, 180 ms 99.9th.',
      '',
    ].join('\n');
    expect(parseProducerPerformance(output)).toEqual({
      records: 1_000_000,
      recordsPerSecond: 511247.443763,
      mbPerSecond: 15.12,
      avgLatencyMs: 12.71,
      p99LatencyMs: 47,
    });
  });

  it('says what it saw when ProducerPerformance printed no summary', () => {
    expect(() => parseProducerPerformance('Exception in thread "main" TimeoutException')).toThrow(
      /no summary line:\nException in thread/,
    );
  });

  it("reads ConsumerPerformance's CSV by column name, after any log lines", () => {
    const output = [
      'WARN some log line before the result',
      'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec',
      '2026-12-01 11:14:40:123, 2026-12-01 11:14:44:223, 29.5639, 7.2107, 1000000, 243902.4390, 3090, 1010, 29.2712, 990099.0099',
    ].join('\n');
    expect(parseConsumerPerformance(output)).toEqual({
      messages: 1_000_000,
      messagesPerSecond: 243902.439,
      fetchMessagesPerSecond: 990099.0099,
      rebalanceMs: 3090,
    });
  });

  it('refuses a ConsumerPerformance output without its result line', () => {
    expect(() =>
      parseConsumerPerformance('start.time, end.time, data.consumed.in.nMsg, fetch.nMsg.sec'),
    ).toThrow(/no result line/);
  });
});
