/** Runs the real `driftline` command as a subprocess, the way a person does, and collects its output. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
  /** stdout as text. */
  readonly out: string;
}

/** Runs `driftline args…`; `env` is added to this process's environment. */
export function runCli(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<CliRun> {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(process.execPath, ['localstack/driftline.mjs', ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', rejectRun);
    child.on('close', (code) => {
      const bytes = Buffer.concat(stdout);
      resolveRun({
        code,
        stdout: bytes,
        stderr: Buffer.concat(stderr).toString('utf8'),
        out: bytes.toString('utf8'),
      });
    });
  });
}

/** A JSON object (record) read from untyped JSON, or a test failure. */
export type JsonRecord = Record<string, unknown>;

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asRecord(value: unknown, what: string): JsonRecord {
  if (!isRecord(value)) throw new Error(`${what} is not a JSON object: ${JSON.stringify(value)}`);
  return value;
}

export function asNumber(value: unknown, what: string): number {
  if (typeof value !== 'number') throw new Error(`${what} is not a number: ${JSON.stringify(value)}`);
  return value;
}

/** One analyze output line, with the fields the tests read checked. */
export interface BatchLine {
  readonly batch: number;
  readonly rows: number;
  readonly summary: JsonRecord;
  readonly cumulative: JsonRecord;
  readonly rejectedRows: number;
  readonly rejectedByReason: JsonRecord;
}

/** Parses `driftline analyze` stdout: one JSON object per line. */
export function batchLines(stdout: string): BatchLine[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line, index) => {
      const value = asRecord(JSON.parse(line), `line ${index + 1}`);
      return {
        batch: asNumber(value.batch, 'batch'),
        rows: asNumber(value.rows, 'rows'),
        summary: asRecord(value.summary, 'summary'),
        cumulative: asRecord(value.cumulative, 'cumulative'),
        rejectedRows: asNumber(value.rejectedRows, 'rejectedRows'),
        rejectedByReason: asRecord(value.rejectedByReason, 'rejectedByReason'),
      };
    });
}
