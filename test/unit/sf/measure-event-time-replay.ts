/**
 * Measures the memory of replaying the full DataSF file in event-time order (not a test; run by hand):
 *
 *   npx tsx test/unit/sf/measure-event-time-replay.ts [path/to/police-department-calls-for-service.json.gz]
 *
 * Replays the file through `replayObject` (the replay λ's core) into a publisher that only counts, once
 * in file order and once with `order=event-time`, each in a fresh process, and prints for each the peak
 * resident set (VmHWM), the peak of V8 heap + array buffers (sampled every 5 ms) and the time; then the
 * difference, against the sort's stated bound (`sortMemoryBound`, event-time-order.ts).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { analysisForObjectKey } from '../../../shared/analyses/registry.ts';
import type { OutgoingMessage, Publisher } from '../../../shared/pipeline/ports.ts';
import { sortMemoryBound } from '../../../shared/pipeline/replay/event-time-order.ts';
import { replayObject } from '../../../shared/pipeline/replay.ts';
import { FakeClock, InMemoryItemStore, InMemoryObjectSource } from '../../support/fakes.ts';
import { FULL_PATH } from './fixtures.ts';

const MiB = 2 ** 20;

interface Measured {
  readonly order: string;
  readonly rows: number;
  readonly seconds: number;
  readonly vmHwmMiB: number;
  readonly heapPeakMiB: number;
}

function vmHwmBytes(): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('VmHWM:'));
  return Number(line?.replace(/\D/g, '') ?? Number.NaN) * 1024;
}

async function measureOne(path: string, order: 'file' | 'event-time'): Promise<Measured> {
  const key = 'sf/measure/calls.json.gz';
  const source = new InMemoryObjectSource(new Map(), { chunkSize: 64 * 1024 });
  source.put(key, readFileSync(path), order === 'event-time' ? { order } : {});
  let rows = 0;
  const publisher: Publisher = {
    async publish(_topic: string, messages: readonly OutgoingMessage[]) {
      rows += messages.length;
    },
  };
  const clock = new FakeClock();
  let heapPeak = 0;
  const sample = () => {
    const usage = process.memoryUsage();
    heapPeak = Math.max(heapPeak, usage.heapUsed + usage.arrayBuffers);
  };
  const sampler = setInterval(sample, 5);
  const startedAt = performance.now();
  const outcome = await replayObject(
    { bucket: 'datasets', key },
    {
      analysisForKey: analysisForObjectKey,
      source,
      publisher,
      store: new InMemoryItemStore({ now: clock.now }),
      rawTopic: 'data_raw',
      partitions: 10,
      defaults: { rowsPerRecord: 1, rate: 0 },
      invocationId: 'measure',
      remainingMs: () => 900_000,
      continueLater: async () => {},
      now: Date.now,
      sleep: async () => {},
      log: () => {},
    },
  );
  clearInterval(sampler);
  sample();
  if (outcome.status !== 'done') throw new Error(`replay ended ${outcome.status}: ${outcome.message}`);
  return {
    order,
    rows,
    seconds: (performance.now() - startedAt) / 1000,
    vmHwmMiB: vmHwmBytes() / MiB,
    heapPeakMiB: heapPeak / MiB,
  };
}

const [mode, pathArgument] = process.argv.slice(2);
if (mode === '--one') {
  const order = process.argv[4] === 'event-time' ? 'event-time' : 'file';
  console.log(JSON.stringify(await measureOne(pathArgument ?? FULL_PATH, order)));
} else {
  const path = mode ?? FULL_PATH;
  const self = fileURLToPath(import.meta.url);
  const run = (order: string): Measured =>
    JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', self, '--one', path, order], { encoding: 'utf8' }),
    );
  const results = [run('file'), run('event-time'), run('file'), run('event-time')];
  for (const result of results) {
    console.log(
      `${result.order.padEnd(10)} ${result.rows} rows in ${result.seconds.toFixed(1)} s; ` +
        `peak RSS ${result.vmHwmMiB.toFixed(1)} MiB, peak heap + buffers ${result.heapPeakMiB.toFixed(1)} MiB`,
    );
  }
  const median = (order: string, field: 'vmHwmMiB' | 'heapPeakMiB') => {
    const values = results.filter((result) => result.order === order).map((result) => result[field]);
    return values.reduce((sum, value) => sum + value, 0) / values.length;
  };
  console.log(
    `event-time − file order: peak RSS ${(median('event-time', 'vmHwmMiB') - median('file', 'vmHwmMiB')).toFixed(1)} MiB, ` +
      `peak heap + buffers ${(median('event-time', 'heapPeakMiB') - median('file', 'heapPeakMiB')).toFixed(1)} MiB ` +
      `(means of 2); the sort's stated bound: ${(sortMemoryBound() / MiB).toFixed(1)} MiB of buffers`,
  );
}
