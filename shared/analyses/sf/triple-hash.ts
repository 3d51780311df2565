/**
 * A 64-bit hash of the deduplication triple (call_date_time, disposition, original_crime_type_name).
 *
 * It is the one identity of a call in `sf`: replay keys records by its hex form (so the duplicates of a
 * call always land in the same partition) and the partition state stores it as the dedup key, 8 bytes
 * per distinct call (dedup-table.ts). Two lanes of 32-bit multiply–xor over the UTF-16 code units
 * (cyrb53's construction, all 64 bits kept), each field followed by its length + 0x10000 — a value no
 * code unit can take, so field boundaries cannot be confused ("a","bc" ≠ "ab","c").
 * Collision odds: about n²/2⁶⁵, i.e. 1e-9 for the 200,000 records of the full file.
 *
 * Stored in partition states: changing this function changes every key, so it needs a new state
 * encoding version.
 */

export interface TripleHash {
  /** High 32 bits (unsigned). */
  readonly hi: number;
  /** Low 32 bits (unsigned). */
  readonly lo: number;
}

let laneA = 0;
let laneB = 0;

function mixText(text: string): void {
  let a = laneA;
  let b = laneB;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    a = Math.imul(a ^ unit, 2654435761);
    b = Math.imul(b ^ unit, 1597334677);
  }
  const boundary = text.length + 0x10000;
  laneA = Math.imul(a ^ boundary, 2654435761);
  laneB = Math.imul(b ^ boundary, 1597334677);
}

/** The hash of the triple, fields in the order of the source job's `dropDuplicates`. */
export function hashTriple(callDateTime: string, disposition: string, crimeType: string): TripleHash {
  laneA = 0xdeadbeef;
  laneB = 0x41c6ce57;
  mixText(callDateTime);
  mixText(disposition);
  mixText(crimeType);
  let a = laneA;
  let b = laneB;
  a = Math.imul(a ^ (a >>> 16), 2246822507);
  a ^= Math.imul(b ^ (b >>> 13), 3266489909);
  b = Math.imul(b ^ (b >>> 16), 2246822507);
  b ^= Math.imul(a ^ (a >>> 13), 3266489909);
  return { hi: b >>> 0, lo: a >>> 0 };
}

/** 16 lower-case hex digits, high half first: the Kafka key of the call's records. */
export function tripleKey(hash: TripleHash): string {
  return hash.hi.toString(16).padStart(8, '0') + hash.lo.toString(16).padStart(8, '0');
}
