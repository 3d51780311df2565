/**
 * The broker JVM's heap as the JVM sees it, for the soak: its GC log (kafka-broker.ts's
 * kafkaGcLogFile, `-Xlog:gc,gc+metaspace`) read as it grows. Beside the JVM's private memory
 * (RssAnon) it tells three things apart: the heap's live data (used after a collection), the heap
 * committed (what G1 has taken from the OS and keeps: a JVM rarely gives heap back), and the rest
 * (metaspace, code cache, thread stacks, direct buffers: RssAnon minus the committed heap, an upper
 * bound, as committed heap pages count in RssAnon only once touched).
 */

import { open } from 'node:fs/promises';

export interface GcPause {
  readonly uptimeSeconds: number;
  /** "Young (Normal)", "Young (Mixed)", "Remark", "Full", … */
  readonly kind: string;
  readonly usedBeforeMiB: number;
  readonly usedAfterMiB: number;
  readonly committedMiB: number;
}

export interface GcLogState {
  readonly pauses: readonly GcPause[];
  /** Metaspace committed after the last collection that logged it, MiB. */
  readonly metaspaceCommittedMiB: number | undefined;
}

const UNIT_MIB: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024 };
const mib = (value: string, unit: string) => Number(value) * (UNIT_MIB[unit] ?? Number.NaN);

// [12.345s] GC(12) Pause Young (Normal) (G1 Evacuation Pause) 150M->30M(256M) 5.123ms
const PAUSE =
  /^\[(\d+(?:\.\d+)?)s\] GC\(\d+\) Pause (Young \([^)]*\)|Remark|Cleanup|Full) (?:.* )?(\d+)([KMG])->(\d+)([KMG])\((\d+)([KMG])\)/;
// [12.345s] GC(12) Metaspace: 7680K(7872K)->7680K(7872K) NonClass: …
const METASPACE = /^\[\d+(?:\.\d+)?s\] GC\(\d+\) Metaspace: \d+[KMG]\(\d+[KMG]\)->\d+[KMG]\((\d+)([KMG])\)/;

/** The pauses and the last metaspace figure in complete lines of a G1 GC log (JDK 17's format). */
export function parseGcLog(text: string): GcLogState {
  const pauses: GcPause[] = [];
  let metaspaceCommittedMiB: number | undefined;
  for (const line of text.split('\n')) {
    const pause = PAUSE.exec(line);
    if (pause) {
      const [, uptime, kind, before, beforeUnit, after, afterUnit, committed, committedUnit] =
        pause as unknown as string[];
      pauses.push({
        uptimeSeconds: Number(uptime),
        kind: kind as string,
        usedBeforeMiB: mib(before as string, beforeUnit as string),
        usedAfterMiB: mib(after as string, afterUnit as string),
        committedMiB: mib(committed as string, committedUnit as string),
      });
      continue;
    }
    const metaspace = METASPACE.exec(line);
    if (metaspace) metaspaceCommittedMiB = mib(metaspace[1] as string, metaspace[2] as string);
  }
  return { pauses, metaspaceCommittedMiB };
}

/**
 * One sample's JVM figures: the heap used after the collections since the previous sample (their
 * lowest: the nearest to live data), the heap committed and metaspace now, and the JVM's private
 * memory beyond its committed heap. Empty when no collection has been logged yet.
 */
export function jvmFigures(
  since: readonly GcPause[],
  state: { readonly lastPause: GcPause | undefined; readonly metaspaceCommittedMiB: number | undefined },
  privateMiB: number | undefined,
): Record<string, number> {
  const last = since.at(-1) ?? state.lastPause;
  if (last === undefined) return {};
  const figures: Record<string, number> = {
    'jvm heap used after GC (lowest since last sample)': Math.min(
      ...(since.length > 0 ? since : [last]).map((pause) => pause.usedAfterMiB),
    ),
    'jvm heap committed': last.committedMiB,
  };
  if (state.metaspaceCommittedMiB !== undefined)
    figures['jvm metaspace committed'] = state.metaspaceCommittedMiB;
  if (privateMiB !== undefined) figures['jvm private beyond heap committed'] = privateMiB - last.committedMiB;
  return figures;
}

/** Reads the GC log as it grows (complete lines only; starts over when the JVM rotates it). */
export class GcLogReader {
  private offset = 0;
  private partial = '';
  private lastPause: GcPause | undefined;
  private metaspaceCommittedMiB: number | undefined;
  /** Every pause read so far (the soak writes them to its results). */
  readonly pauses: GcPause[] = [];

  constructor(private readonly file: string) {}

  /** The JVM figures at this sample (jvmFigures), reading what the log gained since the last. */
  async sample(privateMiB: number | undefined): Promise<Record<string, number>> {
    const text = await this.readNew();
    const lastNewline = text.lastIndexOf('\n');
    const complete = this.partial + text.slice(0, lastNewline + 1);
    this.partial = lastNewline < 0 ? this.partial + text : text.slice(lastNewline + 1);
    const parsed = parseGcLog(complete);
    const figures = jvmFigures(
      parsed.pauses,
      {
        lastPause: this.lastPause,
        metaspaceCommittedMiB: parsed.metaspaceCommittedMiB ?? this.metaspaceCommittedMiB,
      },
      privateMiB,
    );
    this.pauses.push(...parsed.pauses);
    this.lastPause = parsed.pauses.at(-1) ?? this.lastPause;
    this.metaspaceCommittedMiB = parsed.metaspaceCommittedMiB ?? this.metaspaceCommittedMiB;
    return figures;
  }

  private async readNew(): Promise<string> {
    const handle = await open(this.file, 'r').catch(() => undefined);
    if (handle === undefined) return '';
    try {
      const { size } = await handle.stat();
      if (size < this.offset) [this.offset, this.partial] = [0, '']; // rotated: a new file
      const buffer = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
      this.offset += bytesRead;
      return buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  }
}
