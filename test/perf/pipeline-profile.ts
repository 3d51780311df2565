/**
 * A CPU profile of the pipeline at work: an isolated stack, the runtime in THIS process (replay, the
 * MSK trigger and aggregate share its event loop until functions run in their own processes), one
 * generated dt file replayed at full speed. Run under the heavy lock, with the profiler on:
 *
 *   flock /tmp/driftline-heavy.lock node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof \
 *     test/perf/pipeline-profile.ts <rows-per-record> <rows>
 *   node test/perf/profile-stages.mjs /tmp/prof/<main-thread>.cpuprofile <rows> [from-s to-s]
 */
import { BenchStack } from '../../localstack/commands/bench-stack.ts';

const rowsPerRecord = Number(process.argv[2] ?? 1);
const rows = Number(process.argv[3] ?? 100_000);
const bench = await BenchStack.start();
try {
  const metadata = { rate: '0', 'rows-per-record': String(rowsPerRecord) };
  const { run, started } = await bench.upload(rows, 100 + rowsPerRecord, metadata);
  const finished = await bench.waitForRows(run, rows, 600_000);
  const seconds = (finished - started) / 1000;
  console.log(
    `e2e ${rows} rows, ${rowsPerRecord}/record: ${Math.round(rows / seconds)} rows/s (${seconds.toFixed(1)} s)`,
  );
} finally {
  await bench.stop();
}
// Handler modules keep Kafka producers open (module scope, as in a warm Lambda container).
process.exit(0);
