/**
 * The local pipeline runtime in a process of its own, for tests that kill it: started by
 * test/support/demo-process.ts's startProcess (a process group of its own, which its function
 * sandboxes share), it runs the runtime on the stack given as JSON in DRIFTLINE_TEST_STACK, with
 * the handler wrapper module given as its first argument (if any; imported in every sandbox),
 * prints `API <url>` once serving, and stops cleanly on SIGTERM/SIGINT. Every DRIFTLINE_FAULT_*
 * variable is passed on to the functions, with DRIFTLINE_FAULT_KILL_PGID set to this process's group.
 *
 * Usage: node --import tsx test/support/faults/runtime-runner.ts [wrapper-module.ts]
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startPipelineRuntime } from '../../../localstack/runtime.ts';
import { stackInfoSchema } from '../../../localstack/stack-files.ts';

const stack = stackInfoSchema.parse(JSON.parse(process.env.DRIFTLINE_TEST_STACK ?? '{}'));
const faults = Object.fromEntries(
  Object.entries(process.env).filter(
    (entry): entry is [string, string] => entry[0].startsWith('DRIFTLINE_FAULT_') && entry[1] !== undefined,
  ),
);
// startProcess starts this process as the leader of its own group: its pid is the group's id.
const environment = { DRIFTLINE_REPLAY_RATE: '0', ...faults, DRIFTLINE_FAULT_KILL_PGID: String(process.pid) };
const wrapper = process.argv[2];
const runtime = await startPipelineRuntime({
  stack,
  cacheDir: join(await mkdtemp(join(tmpdir(), 'driftline-runner-')), 'cache'),
  apiPort: 0,
  environment,
  ...(wrapper ? { handlerWrapper: resolve(wrapper) } : {}),
  log: (line) => console.log(line),
});
console.log(`  API ${runtime.apiUrl}`);
// For the message of a failed wait: what the functions and the trigger were doing.
setInterval(() => console.log(`stats ${JSON.stringify(runtime.stats())}`), 5_000).unref();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void runtime.stop().then(() => process.exit(0));
  });
}
