/**
 * A deliberately naive reference of the dt reducer, written from `dt.md` alone: strings, `split`,
 * `Number`, BigInt, Maps and Sets. Slow and obviously correct, it shares no code with the analysis.
 */

export interface ReferenceRow {
  head: number;
  fpga: number;
  channel: number;
  orbit: bigint;
  bx: number;
  tdc: number;
}

export type ReferenceParse = { ok: true; row: ReferenceRow } | { ok: false; reason: string };

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)$/;

/** Text row → fields, with the rejection reason when the row is not a DAQ word. */
export function parseReferenceTextRow(line: string): ReferenceParse {
  const fields = line.split(',');
  if (fields.length !== 6) return { ok: false, reason: 'field-count' };
  for (const field of fields) if (!DECIMAL.test(field)) return { ok: false, reason: 'not-a-number' };
  for (const field of fields.slice(0, 5))
    if (!INTEGER.test(field)) return { ok: false, reason: 'not-an-integer' };
  const [head, fpga, channel, orbit, bx, tdc] = fields;
  return {
    ok: true,
    row: {
      head: Number(head),
      fpga: Number(fpga),
      channel: Number(channel),
      orbit: BigInt(orbit ?? '0'),
      bx: Number(bx),
      tdc: Number(tdc),
    },
  };
}

/** Packed word → fields, with BigInt shifts (bits 0–4 TDC, 5–16 BX, 17–48 ORBIT, 49–57 CH, 58–60 FPGA, 61–63 HEAD). */
export function decodeReferenceWord(word: Uint8Array): ReferenceRow {
  const value = new DataView(word.buffer, word.byteOffset, 8).getBigUint64(0, true);
  const bits = (from: bigint, count: bigint): bigint => (value >> from) & ((1n << count) - 1n);
  return {
    tdc: Number(bits(0n, 5n)),
    bx: Number(bits(5n, 12n)),
    orbit: bits(17n, 32n),
    channel: Number(bits(49n, 9n)),
    fpga: Number(bits(58n, 3n)),
    head: Number(bits(61n, 3n)),
  };
}

/** The documented validity of a row: ancillary words need a 3-bit HEAD; hits need hit ranges. */
export function referenceIsValid(row: ReferenceRow): boolean {
  if (row.head < 0 || row.head > 7) return false;
  if (row.head !== 2) return true;
  return (
    row.fpga >= 0 &&
    row.fpga <= 1 &&
    row.channel >= 0 &&
    row.channel <= 511 &&
    row.orbit >= 0n &&
    row.orbit <= 4294967295n &&
    row.bx >= 0 &&
    row.bx <= 3563 &&
    row.tdc >= 0 &&
    row.tdc < 30
  );
}

const OFFSETS_NS = [93.9, 101.4, 95.5, 92.4];

export interface ReferenceResult {
  rowsRead: number;
  rejected: Record<string, number>;
  filtered: number;
  auxiliary: number;
  scintillator: number;
  orbitsWithHits: number;
  orbitsWithScintillator: number;
  hitCountChamber: number[];
  occupancy: number[][];
  multiplicity: number[][];
  gatedOccupancy: number[][];
  drift: number[][];
  driftUnderflow: number[];
  driftOverflow: number[];
}

/**
 * Absolute time in thirtieths of a ns (25 ns × 30 per BX, 25/30 ns × 30 per TDC count): the BX part
 * as an exact BigInt, the TDC part (possibly fractional) as a number.
 */
interface ReferenceTime {
  bx30: bigint;
  tdc30: number;
}
function absoluteTime30(row: ReferenceRow): ReferenceTime {
  return { bx30: (row.orbit * 3564n + BigInt(row.bx)) * 750n, tdc30: row.tdc * 25 };
}
function timeDifference30(a: ReferenceTime, b: ReferenceTime): number {
  return Number(a.bx30 - b.bx30) + (a.tdc30 - b.tdc30);
}
function isEarlier(a: ReferenceTime, b: ReferenceTime): boolean {
  return timeDifference30(a, b) < 0;
}

/**
 * One batch, from rows already parsed (undefined entries are rejected rows with their reason).
 * `driftEdges` are the drift histogram's bin edges in ns (n + 1 edges, last bin closed).
 */
export function referenceBatch(
  parsed: readonly ReferenceParse[],
  driftEdges: readonly number[],
): ReferenceResult {
  const bins = driftEdges.length - 1;
  const zeros = (count: number): number[] => new Array<number>(count).fill(0);
  const result: ReferenceResult = {
    rowsRead: parsed.length,
    rejected: {},
    filtered: 0,
    auxiliary: 0,
    scintillator: 0,
    orbitsWithHits: 0,
    orbitsWithScintillator: 0,
    hitCountChamber: zeros(4),
    occupancy: [0, 1, 2, 3].map(() => zeros(64)),
    multiplicity: [0, 1, 2, 3].map(() => zeros(64)),
    gatedOccupancy: [0, 1, 2, 3].map(() => zeros(64)),
    drift: [0, 1, 2, 3].map(() => zeros(bins)),
    driftUnderflow: zeros(4),
    driftOverflow: zeros(4),
  };
  const hits: { orbit: string; chamber: number; channel: number; time: ReferenceTime }[] = [];
  const earliestScintillator = new Map<string, ReferenceTime>();
  for (const item of parsed) {
    if (!item.ok) {
      result.rejected[item.reason] = (result.rejected[item.reason] ?? 0) + 1;
      continue;
    }
    const row = item.row;
    if (!referenceIsValid(row)) {
      result.rejected['out-of-range'] = (result.rejected['out-of-range'] ?? 0) + 1;
    } else if (row.head !== 2) {
      result.filtered++;
    } else if (row.channel <= 127) {
      const chamber = row.fpga === 0 ? (row.channel < 64 ? 0 : 1) : row.channel < 64 ? 2 : 3;
      hits.push({ orbit: String(row.orbit), chamber, channel: row.channel % 64, time: absoluteTime30(row) });
    } else if (row.fpga === 1 && row.channel === 128) {
      result.scintillator++;
      const orbit = String(row.orbit);
      const time = absoluteTime30(row);
      const earlier = earliestScintillator.get(orbit);
      if (earlier === undefined || isEarlier(time, earlier)) earliestScintillator.set(orbit, time);
    } else {
      result.auxiliary++;
    }
  }

  const activeChannels = new Map<string, Set<number>[]>();
  for (const hit of hits) {
    result.hitCountChamber[hit.chamber] = (result.hitCountChamber[hit.chamber] ?? 0) + 1;
    increment(result.occupancy[hit.chamber], hit.channel);
    const perChamber = activeChannels.get(hit.orbit) ?? [new Set(), new Set(), new Set(), new Set()];
    perChamber[hit.chamber]?.add(hit.channel);
    activeChannels.set(hit.orbit, perChamber);
    const scintillator = earliestScintillator.get(hit.orbit);
    if (scintillator === undefined) continue;
    increment(result.gatedOccupancy[hit.chamber], hit.channel);
    // drift = t_hit − (t_scint − offset). With integer TDC counts the difference is a multiple of 25
    // thirtieths and the offsets are not, so a drift time is never within 0.1 ns of a bin edge: plain
    // float arithmetic cannot put it in the wrong bin.
    const drift = timeDifference30(hit.time, scintillator) / 30 + (OFFSETS_NS[hit.chamber] ?? 0);
    const first = driftEdges[0] ?? 0;
    const last = driftEdges[bins] ?? 0;
    if (drift < first) increment(result.driftUnderflow, hit.chamber);
    else if (drift > last) increment(result.driftOverflow, hit.chamber);
    else {
      let bin = 0;
      while (bin < bins - 1 && drift >= (driftEdges[bin + 1] ?? 0)) bin++;
      increment(result.drift[hit.chamber], bin);
    }
  }
  for (const perChamber of activeChannels.values()) {
    perChamber.forEach((channels, chamber) => {
      if (channels.size > 0) increment(result.multiplicity[chamber], channels.size - 1);
    });
  }
  result.orbitsWithHits = activeChannels.size;
  result.orbitsWithScintillator = earliestScintillator.size;
  return result;
}

function increment(counts: number[] | undefined, index: number): void {
  if (counts === undefined) throw new Error('reference: missing histogram');
  counts[index] = (counts[index] ?? 0) + 1;
}

/** Drift bin edges as the spec'd binning: [-100, 500] ns in bins of 5 TDC counts (25/6 ns). */
export const REFERENCE_DRIFT_EDGES: readonly number[] = Array.from(
  { length: 145 },
  (_, index) => -100 + (index * 25) / 6,
);
