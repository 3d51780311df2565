/**
 * Starting, finding and stopping the stack process: `driftline stack up|down|status` and the
 * programmatic API the tests use. The stack runs in its own process group; it is stopped by the id
 * recorded in its `stack.json`, never by name.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type Environment, loadStackConfig, type StackConfig } from '../shared/config.ts';
import { PROJECT_ROOT } from './service-definition.ts';
import { StackError } from './stack-error.ts';
import {
  type DaemonMemoryUsage,
  memoryUsageSchema,
  restartedSchema,
  type StackInfo,
  stackInfoFile,
  stackInfoSchema,
  stackLogFile,
} from './stack-files.ts';

const STARTUP_TIMEOUT_MS = 300_000;
const STOP_GRACE_MS = 20_000;

const readyMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), info: stackInfoSchema }),
  z.object({ type: z.literal('failed'), message: z.string(), userFacing: z.boolean() }),
]);

export interface StackHandle {
  readonly info: StackInfo;
  /**
   * An attached stack only (tests): kills the broker or stops an emulator, and brings it back
   * after `downMs` on the same port and data; resolves once it serves again.
   */
  restart(service: 'kafka' | 's3' | 'dynamodb', downMs: number): Promise<void>;
  /** An attached stack only (the soak bench): the daemon's `process.memoryUsage()`. */
  memoryUsage(): Promise<DaemonMemoryUsage>;
  /** Stops the stack's whole process group and waits until it is gone. */
  stop(): Promise<void>;
}

const RESTART_TIMEOUT_MS = 120_000;

/** Sends a restart request to the attached daemon `child` and waits for its answer. */
function requestRestart(
  child: ChildProcess,
  id: number,
  service: 'kafka' | 's3' | 'dynamodb',
  downMs: number,
) {
  return new Promise<void>((resolveRestart, rejectRestart) => {
    if (!child.connected) {
      rejectRestart(
        new StackError('Only an attached stack (started by this process) can restart a service.'),
      );
      return;
    }
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      rejectRestart(new StackError(`${service} did not serve again within ${RESTART_TIMEOUT_MS / 1000} s`));
    }, RESTART_TIMEOUT_MS);
    const onMessage = (message: unknown) => {
      const answer = restartedSchema.safeParse(message);
      if (!answer.success || answer.data.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      if (answer.data.error)
        rejectRestart(new StackError(`restarting ${service} failed: ${answer.data.error}`));
      else resolveRestart();
    };
    child.on('message', onMessage);
    child.send({ type: 'restart', id, service, downMs });
  });
}

const MEMORY_TIMEOUT_MS = 10_000;

/** Asks the attached daemon `child` for its memory split and waits for its answer. */
function requestMemoryUsage(child: ChildProcess, id: number): Promise<DaemonMemoryUsage> {
  return new Promise((resolveUsage, rejectUsage) => {
    if (!child.connected) {
      rejectUsage(new StackError('Only an attached stack (started by this process) reports its memory.'));
      return;
    }
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      rejectUsage(
        new StackError(`the stack daemon did not report its memory within ${MEMORY_TIMEOUT_MS} ms`),
      );
    }, MEMORY_TIMEOUT_MS);
    const onMessage = (message: unknown) => {
      const answer = memoryUsageSchema.safeParse(message);
      if (!answer.success || answer.data.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      const { type: _type, id: _id, ...usage } = answer.data;
      resolveUsage(usage);
    };
    child.on('message', onMessage);
    child.send({ type: 'memory', id });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is not ours.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
  return condition();
}

/** SIGTERM to the stack's process group (daemon + JVM), SIGKILL if it outlives the grace period. */
export async function stopProcessGroup(pgid: number, graceMs = STOP_GRACE_MS): Promise<void> {
  if (!isGroupAlive(pgid)) return;
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitUntil(() => !isGroupAlive(pgid), graceMs)) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    return;
  }
  await waitUntil(() => !isGroupAlive(pgid), 5_000);
}

export async function readStackInfo(dataDir: string): Promise<StackInfo | undefined> {
  try {
    const info = stackInfoSchema.parse(JSON.parse(await readFile(stackInfoFile(dataDir), 'utf8')));
    return isAlive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

type StartupOutcome = z.infer<typeof readyMessage> | { type: 'exited'; code: number | null };

async function refuseIfRunning(dataDir: string): Promise<void> {
  const running = await readStackInfo(dataDir);
  if (running) {
    throw new StackError(
      `A stack is already running from ${dataDir} (pid ${running.pid}). Stop it with \`npx driftline stack down\`.`,
    );
  }
}

/** The stack daemon in a process group of its own, its output appended to the stack's log. */
function spawnStackProcess(env: Environment, dataDir: string, attached: boolean): ChildProcess {
  const logFd = openSync(stackLogFile(dataDir), 'a');
  const child = spawn(
    process.execPath,
    // `--import tsx` resolves from the cwd, the project root, like an import from its files would.
    [
      '--import',
      'tsx',
      join(PROJECT_ROOT, 'localstack', 'stack-daemon.ts'),
      ...(attached ? ['--attached'] : []),
    ],
    {
      cwd: PROJECT_ROOT,
      env: { ...env, DRIFTLINE_DATA_DIR: dataDir },
      detached: true,
      stdio: ['ignore', logFd, logFd, 'ipc'],
    },
  );
  closeSync(logFd);
  return child;
}

/** The daemon's ready or failed message, its exit, or a timeout, whichever comes first. */
function startupOutcome(child: ChildProcess): Promise<StartupOutcome> {
  return new Promise<StartupOutcome>((resolveOutcome) => {
    const timer = setTimeout(
      () =>
        resolveOutcome({
          type: 'failed',
          message: `not ready within ${STARTUP_TIMEOUT_MS / 1000} s`,
          userFacing: true,
        }),
      STARTUP_TIMEOUT_MS,
    );
    child.on('message', (message) => {
      const parsed = readyMessage.safeParse(message);
      if (parsed.success) {
        clearTimeout(timer);
        resolveOutcome(parsed.data);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveOutcome({ type: 'exited', code });
    });
  });
}

/**
 * Starts the stack process and resolves when it is ready. `attached`: the stack stops by itself when
 * this process goes away (tests). Otherwise it keeps running until `stopStack` (`stack up`).
 */
export async function startStack(
  options: { readonly env?: Environment; readonly fresh?: boolean; readonly attached?: boolean } = {},
): Promise<StackHandle> {
  const env = { ...process.env, ...options.env };
  const config = loadStackConfig(env);
  await refuseIfRunning(config.dataDir);
  if (options.fresh) await wipeData(config);
  await mkdir(config.dataDir, { recursive: true });
  const child = spawnStackProcess(env, config.dataDir, options.attached === true);
  const pid = child.pid;
  if (pid === undefined) throw new StackError('Could not start the stack process.');

  const outcome = await startupOutcome(child);
  if (outcome.type !== 'ready') {
    await stopProcessGroup(pid);
    const detail =
      outcome.type === 'exited' ? `the stack process exited with code ${outcome.code}` : outcome.message;
    throw new StackError(
      `The local stack did not start: ${detail}\n  (log: ${stackLogFile(config.dataDir)})`,
    );
  }
  if (!options.attached) {
    child.disconnect();
    child.unref();
  }
  let requests = 0;
  return {
    info: outcome.info,
    restart: (service, downMs) => requestRestart(child, ++requests, service, downMs),
    memoryUsage: () => requestMemoryUsage(child, ++requests),
    async stop() {
      await stopProcessGroup(pid);
      if (options.attached && child.connected) child.disconnect();
    },
  };
}

/** Stops the stack recorded in the data folder; resolves false when none was running. */
export async function stopStack(env: Environment = process.env): Promise<boolean> {
  const config = loadStackConfig(env);
  const info = await readStackInfo(config.dataDir);
  if (!info) {
    await rm(stackInfoFile(config.dataDir), { force: true });
    return false;
  }
  await stopProcessGroup(info.pid);
  await rm(stackInfoFile(config.dataDir), { force: true });
  return true;
}

/** Removes all stack state (topics, objects, tables, streams); keeps the downloaded jars. */
export async function wipeData(config: StackConfig): Promise<void> {
  if (!existsSync(config.dataDir)) return;
  if (await readStackInfo(config.dataDir)) {
    throw new StackError(`Cannot wipe ${config.dataDir} while its stack is running; stop it first.`);
  }
  await rm(config.dataDir, { recursive: true, force: true });
}
