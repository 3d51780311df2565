import { readdirSync, readFileSync } from 'node:fs';

/** Every port 0 (free ports), a throw-away data folder: never collides with a stack a person runs. */
export function isolatedStackEnvironment(dataDir: string): Record<string, string> {
  return {
    DRIFTLINE_DATA_DIR: dataDir,
    DRIFTLINE_KAFKA_PORT: '0',
    DRIFTLINE_KAFKA_CONTROLLER_PORT: '0',
    DRIFTLINE_S3_PORT: '0',
    DRIFTLINE_DYNAMODB_PORT: '0',
    DRIFTLINE_KINESIS_PORT: '0',
    DRIFTLINE_KAFKA_HEAP: '512m',
  };
}

/** The processes (pid → command line) whose process group is `pgid`, read from /proc. */
export function processesInGroup(pgid: number): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesised command: state ppid pgrp …
      const afterCommand = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(afterCommand[2]) !== pgid) continue;
      if (afterCommand[0] === 'Z') continue; // a zombie is already gone, only not yet reaped
      found.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim());
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}
