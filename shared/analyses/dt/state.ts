/**
 * The rolling state of one partition: the closed totals (every hit-level count, and the orbit-level
 * counts of the orbits already closed) plus the orbits still open (open-orbits.ts). The cumulative
 * view adds the open orbits' contributions on the fly, so it is complete at any time.
 */
import { emptyOpenOrbits, mergeOpenOrbits, type OpenOrbits, openOrbitsTotals } from './open-orbits.ts';
import { type DtTotals, emptyTotals, mergeAllTotals, mergeTotals } from './totals.ts';

export interface DtState {
  /** Sum of the `batch` contributions of every batch applied so far. */
  readonly closed: DtTotals;
  readonly open: OpenOrbits;
}

export function emptyState(): DtState {
  return { closed: emptyTotals(), open: emptyOpenOrbits() };
}

/**
 * The cumulative view over partitions: closed totals summed, open orbits united (partitions hold
 * disjoint orbits, so none is counted twice; the same number from two runs stays two orbits). Meant
 * for `summarizeState`; applying a batch to a merged state adds a hit to one copy of such a number.
 */
export function mergeStates(states: readonly DtState[]): DtState {
  return {
    closed: mergeAllTotals(states.map((state) => state.closed)),
    open: mergeOpenOrbits(states.map((state) => state.open)),
  };
}

/** Everything so far: the closed totals plus what the open orbits would add if they closed now. */
export function stateTotals(state: DtState): DtTotals {
  if (state.open.orbits.length === 0) return state.closed;
  return mergeTotals(state.closed, openOrbitsTotals(state.open));
}
