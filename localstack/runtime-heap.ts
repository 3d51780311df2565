/**
 * A V8 heap bound for the commands that host the local runtime (`demo` = `npm start`, `bench`):
 * the CLI runs them in a child Node process started with `--max-old-space-size`.
 *
 * Why: the runtime's live data is small (the sf full-file run, a full GC every 2 s: 45-110 MB of
 * heap, most of it the trigger's buffers and events in flight), but it allocates fast (each event's
 * JSON, up to 6 MB, built and sent to the sandbox), and V8 then lets the heap grow to about three
 * times the live data before a full collection: 500 MiB of RSS, mostly garbage. With a bound V8
 * collects sooner instead. The bound sits well above the live data (the MSK trigger's buffers are
 * bounded over all partitions, msk-record.ts), and functions run in their own sandboxes with
 * their own limits (function-sandbox.ts), so it does not limit what a handler may hold.
 *
 * A limit the person has set (`NODE_OPTIONS=--max-old-space-size=…` or a node flag) is kept as
 * it is, and no second process is started then. Signals: Ctrl-C reaches both processes from the
 * terminal (one process group), so the parent ignores SIGINT and lets the child stop as it
 * would alone; a SIGTERM or SIGHUP sent to the parent is passed on. If the parent dies, the
 * child is sent SIGTERM by itself (its IPC channel closes), so no runtime is left behind.
 */
import { spawn } from 'node:child_process';

/** The old-space limit of the runtime's process, in MiB (the sf run's live heap peaks at ~110 MB). */
export const RUNTIME_HEAP_LIMIT_MIB = 192;
const COMMANDS_HOSTING_THE_RUNTIME = new Set(['demo', 'bench']);
const FORWARDED_SIGNALS = ['SIGTERM', 'SIGHUP'] as const;

/** The Node arguments to run `script argv…` with under the bound, or undefined to run it here. */
export function heapBoundedArgs(options: {
  readonly script: string;
  readonly argv: readonly string[];
  readonly execArgv: readonly string[];
  readonly nodeOptions: string | undefined;
}): string[] | undefined {
  const command = options.argv[0];
  if (command === undefined || !COMMANDS_HOSTING_THE_RUNTIME.has(command)) return undefined;
  if (options.argv.includes('--help') || options.argv.includes('-h')) return undefined;
  const given = [...options.execArgv, ...(options.nodeOptions ?? '').split(/\s+/)];
  if (given.some((flag) => /^--max[-_]old[-_]space[-_]size/.test(flag))) return undefined;
  return [
    `--max-old-space-size=${RUNTIME_HEAP_LIMIT_MIB}`,
    ...options.execArgv,
    options.script,
    ...options.argv,
  ];
}

/** Runs Node with `args` in a child; resolves with its exit code, or ends this process by its signal. */
export function runBoundedChild(args: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, args, { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
  const ignore = () => {};
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', ignore);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  return new Promise((resolveExit, rejectSpawn) => {
    child.once('error', rejectSpawn);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      for (const each of FORWARDED_SIGNALS) process.off(each, forward);
      // Ended by a signal: this process ends by the same one, as a shell or npm would see it.
      if (signal) process.kill(process.pid, signal);
      else resolveExit(code ?? 1);
    });
  });
}

/** In the bounded child: when the parent is gone (its IPC channel closed), stop as on SIGTERM. */
export function stopWhenParentGoes(): void {
  if (!process.channel) return;
  // The channel must not keep this process alive, nor be read by anything else.
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
