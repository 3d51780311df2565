/**
 * `dt`: online monitoring of a drift-tube muon telescope (see `dt.md`). Rows are DAQ words
 * (text `HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS` or packed 64-bit), keyed by ORBIT_CNT;
 * per batch it reports hit counts, per-chamber occupancy, orbit multiplicity, scintillator-gated
 * occupancy and drift times. Orbits stay open in the partition state across batches, so an orbit cut
 * by a batch boundary still counts once (reducer.ts).
 */
import type { Analysis } from '../../core/analysis.ts';
import { stateCodec, totalsCodec } from './codec.ts';
import { applyBatch } from './reducer.ts';
import { dtReplay } from './replay.ts';
import { type DtState, emptyState, mergeStates, stateTotals } from './state.ts';
import { summarize } from './summary.ts';
import { type DtTotals, emptyTotals, mergeTotals } from './totals.ts';

/**
 * One batch's contribution: the hit-level counts of its rows and the orbit-level counts of the orbits
 * closed in it. Additive, so `data_clean` messages and time-bucket rollups add up.
 */
export type DtBatch = DtTotals;
export type { DtState } from './state.ts';

/**
 * Only late hits make dt depend on how rows are spread over partitions: a hit is late when its
 * partition opened MAX_OPEN_ORBITS newer orbits before it, and it then opens an orbit of its own. A
 * partition sees about 1/10 of the orbits, so fewer hits are late there than in one stream. Generated
 * and real data have none (open-orbits.ts), and then every figure is the same (reconcile checks it).
 */
const LATE_HITS_ONLY =
  'differs only when hits are late (late_hits > 0): a hit is late when its partition opened 256 newer ' +
  'orbits before it, and over 10 partitions each sees about a tenth of the orbits, so fewer hits are late ' +
  'than in one stream; a late hit opens an orbit of its own';
const ORDER_DEPENDENT = Object.fromEntries(
  ['late_hits', 'orbits_with_hits', 'orbits_with_scintillator', 'chambers'].map((field) => [
    field,
    LATE_HITS_ONLY,
  ]),
);

export const dtAnalysis: Analysis<DtState, DtBatch> = {
  id: 'dt',
  title: 'Drift-tube muon telescope',
  replay: dtReplay,
  emptyState,
  emptyBatch: emptyTotals,
  applyBatch,
  mergeBatches: mergeTotals,
  mergeStates,
  summarizeBatch: summarize,
  summarizeState: (state) => summarize(stateTotals(state)),
  stateCodec,
  batchCodec: totalsCodec,
  orderDependentFields: ORDER_DEPENDENT,
};

export { DRIFT_BIN_NS, DRIFT_BINS, DRIFT_MAX_NS, DRIFT_MIN_NS } from './histogram.ts';
export { MAX_OPEN_HITS, MAX_OPEN_ORBITS } from './open-orbits.ts';
export { REJECTION_REASONS, type RejectionReason } from './rejection.ts';
export type { DtTotals } from './totals.ts';
