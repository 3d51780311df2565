/**
 * The stack's own process. Started by stack-control.ts in a new process group (so `stack down`
 * stops it and the Kafka JVM together), it runs the stack, reports readiness over IPC, writes
 * `stack.json`, and shuts down cleanly on SIGTERM/SIGINT/SIGHUP, when the broker dies, or — when
 * started `--attached` (tests) — as soon as its parent goes away, so an interrupted test run
 * leaves nothing behind.
 */
import { rm, writeFile } from 'node:fs/promises';
import { loadStackConfig } from '../shared/config.ts';
import { type RunningStack, runStack } from './stack.ts';
import { memoryRequestSchema, restartRequestSchema, stackInfoFile } from './stack-files.ts';

const attached = process.argv.includes('--attached');
const log = (line: string) => console.log(`[${new Date().toISOString()}] ${line}`);
let running: RunningStack | undefined;
let stopping: Promise<void> | undefined;

function shutdown(reason: string, exitCode: number): Promise<void> {
  stopping ??= (async () => {
    log(`stopping (${reason})`);
    const stack = running;
    if (stack) {
      // stack.json goes last: while it names a live daemon, a new start on this data folder is
      // refused. Kafka does not keep a second broker off a live folder: its metadata log is
      // written by both, and the running one halts on a corrupt record.
      await stack.stop();
      await rm(stackInfoFile(stack.info.dataDir), { force: true });
    }
    log('stopped');
    process.exit(exitCode);
  })();
  return stopping;
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(signal, () => void shutdown(signal, 0));
}
if (attached) process.on('disconnect', () => void shutdown('parent process went away', 0));

// The fault-injection tests restart one service of an attached stack (stack-control.ts's `restart`);
// the soak bench asks for the daemon's memory split (`memoryUsage`).
process.on('message', (message) => {
  const memory = memoryRequestSchema.safeParse(message);
  if (memory.success) {
    process.send?.({ type: 'memory-usage', id: memory.data.id, ...process.memoryUsage() });
    return;
  }
  const request = restartRequestSchema.safeParse(message);
  if (!request.success || !running || stopping) return;
  const { id, service, downMs } = request.data;
  log(`restarting ${service} (down for ${downMs} ms), as asked`);
  running.restart(service, downMs).then(
    () => {
      log(`${service} serves again`);
      process.send?.({ type: 'restarted', id });
    },
    (error: unknown) => process.send?.({ type: 'restarted', id, error: String(error) }),
  );
});

try {
  const config = loadStackConfig();
  running = await runStack(config, log);
  const info = running.info;
  await writeFile(stackInfoFile(info.dataDir), `${JSON.stringify(info, null, 2)}\n`);
  log(`ready in ${info.startupMs} ms: ${JSON.stringify(info.endpoints)}`);
  process.send?.({ type: 'ready', info });
  void running.brokerExited.then((code) => shutdown(`the Kafka broker exited with code ${code}`, 1));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  const userFacing = error instanceof Error && (error.name === 'StackError' || error.name === 'ConfigError');
  log(`failed: ${userFacing ? message : error instanceof Error ? (error.stack ?? message) : message}`);
  process.send?.({ type: 'failed', message, userFacing });
  await shutdown('startup failed', 1);
}
