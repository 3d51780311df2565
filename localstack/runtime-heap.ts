/**
 * The heap bound of a process that hosts the local runtime (`driftline demo`, i.e. `npm start`,
 * and `driftline bench`). Each function's sandbox runs under its memorySize, as Lambda bounds it;
 * the runtime itself (triggers, gateway) had no bound, and V8 let a heap that allocates fast (each
 * MSK event's JSON, up to 6 MB) grow to about 3× its live data (45–110 MB measured in the sf
 * full-file run) before a full collection: 416–956 MiB peaks of RSS that said how lazily V8
 * collected, not what the runtime keeps. Under a bound a leak cannot hide in that headroom either:
 * the process fails with "heap out of memory" instead.
 *
 * A Node process cannot set its own old-space size once started, so the CLI runs such a command
 * again in a child under the bound (cli.ts). A person's own bound (`--max-old-space-size` in
 * NODE_OPTIONS or on node's command line) wins: then the command runs where it is.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from './service-definition.ts';

/** 256 MiB: more than 2× the largest live heap measured (110 MB, sf full file at full speed). */
export const RUNTIME_HEAP_MIB = 256;

/** Whether this process runs under an old-space bound of its own or of the person's. */
export function hasHeapBound(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions = process.env.NODE_OPTIONS ?? '',
): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((flag) =>
    /^--max[-_]old[-_]space[-_]size\b/.test(flag),
  );
}

/**
 * Runs `driftline ARGV` in a child under RUNTIME_HEAP_MIB and resolves with its exit code.
 * The child shares the terminal and the process group: Ctrl-C (SIGINT to the group) reaches it
 * directly, so the parent ignores SIGINT and waits; SIGTERM and SIGHUP sent to the parent alone
 * are passed on, so that stopping the command by its pid stops the runtime too.
 */
export function runUnderHeapBound(argv: readonly string[]): Promise<number> {
  const child = spawn(
    process.execPath,
    [`--max-old-space-size=${RUNTIME_HEAP_MIB}`, join(PROJECT_ROOT, 'localstack', 'driftline.mjs'), ...argv],
    { stdio: 'inherit' },
  );
  const ignore = () => {};
  const passOn = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', ignore);
  process.on('SIGTERM', passOn);
  process.on('SIGHUP', passOn);
  return new Promise((resolveExit, rejectSpawn) => {
    child.once('error', rejectSpawn);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', passOn);
      process.off('SIGHUP', passOn);
      resolveExit(code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 130 : 1));
    });
  });
}
