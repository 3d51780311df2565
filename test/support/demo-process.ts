/**
 * `npm start` (or any `driftline` command) as a person runs it: a process of its own, in a process
 * group of its own, so that a test can press "Ctrl-C" the way a terminal does (SIGINT to the whole
 * foreground group: npm, its shell and node alike) and stop everything it started by group id.
 * Its output is kept, for the tests' assertions and for the message of a failed wait.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { stopProcessGroup } from '../../localstack/stack-control.ts';
import { withTimeout } from './stack-clients.ts';

export interface DemoProcess {
  /** stdout and stderr lines so far, each prefixed `out| ` or `err| `. */
  readonly lines: readonly string[];
  /** Resolves with the first line (either stream) matching `pattern`; fails after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** The API URL the demo's banner names. */
  apiUrl(timeoutMs: number): Promise<string>;
  /** Ctrl-C in a terminal: SIGINT to the whole process group. */
  interrupt(): void;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** The last `count` output lines, for failure messages. */
  tail(count?: number): string;
  /** SIGTERM, then SIGKILL, to the process group; resolves once it is gone. */
  kill(): Promise<void>;
}

/**
 * Starts `command args` in `cwd` with `env` on top of this process's environment, less the
 * variables whose names match `dropInherited` (e.g. a person's own DRIFTLINE_* settings).
 */
export function startProcess(options: {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly dropInherited?: RegExp;
}): DemoProcess {
  const { dropInherited } = options;
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => dropInherited === undefined || !dropInherited.test(name)),
  );
  const child: ChildProcess = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    env: { ...inherited, ...options.env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${options.command}`);
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const take = (prefix: string) => (line: string) => {
    const entry = `${prefix}| ${line}`;
    lines.push(entry);
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  if (child.stdout) createInterface({ input: child.stdout }).on('line', take('out'));
  if (child.stderr) createInterface({ input: child.stderr }).on('line', take('err'));
  const exited = new Promise<number | string>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit(code ?? signal ?? 'unknown'));
  });
  const tail = (count = 40) => lines.slice(-count).join('\n');

  const waitForLine = (pattern: RegExp, timeoutMs: number) => {
    const seen = lines.find((line) => pattern.test(line.slice(5)));
    if (seen) return Promise.resolve(seen.slice(5));
    const found = new Promise<string>((resolveLine, rejectLine) => {
      waiters.add({ pattern, resolve: resolveLine });
      void exited.then((code) =>
        rejectLine(new Error(`the process exited (${code}) before printing ${pattern}:\n${tail()}`)),
      );
    });
    return withTimeout(
      found,
      timeoutMs,
      () => `no line matching ${pattern} within ${timeoutMs} ms:\n${tail()}`,
    );
  };

  return {
    lines,
    waitForLine,
    async apiUrl(timeoutMs) {
      const line = await waitForLine(/^\s+API\s+http:\/\/127\.0\.0\.1:\d+/, timeoutMs);
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)?.[0];
      if (!url) throw new Error(`no API URL in "${line}"`);
      return url;
    },
    interrupt() {
      process.kill(-pid, 'SIGINT');
    },
    exited,
    tail,
    kill: () => stopProcessGroup(pid, 10_000),
  };
}
