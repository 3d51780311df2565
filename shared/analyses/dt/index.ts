/**
 * `dt`: online monitoring of a drift-tube muon telescope (see `dt.md`). Rows are DAQ words
 * (text `HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS` or packed 64-bit), keyed by ORBIT_CNT;
 * per batch it reports hit counts, per-chamber occupancy, orbit multiplicity, scintillator-gated
 * occupancy and drift times.
 */
import type { Analysis } from '../../core/analysis.ts';
import { totalsCodec } from './codec.ts';
import { applyBatch } from './reducer.ts';
import { dtReplay } from './replay.ts';
import { summarize } from './summary.ts';
import { type DtTotals, emptyTotals, mergeAllTotals, mergeTotals } from './totals.ts';

/** Rolling state of one partition: cumulative counters. */
export type DtState = DtTotals;
/** One batch's contribution: the same counters, for that batch only. */
export type DtBatch = DtTotals;

export const dtAnalysis: Analysis<DtState, DtBatch> = {
  id: 'dt',
  title: 'Drift-tube muon telescope',
  replay: dtReplay,
  emptyState: emptyTotals,
  emptyBatch: emptyTotals,
  applyBatch,
  mergeBatches: mergeTotals,
  mergeStates: mergeAllTotals,
  summarizeBatch: summarize,
  summarizeState: summarize,
  stateCodec: totalsCodec,
  batchCodec: totalsCodec,
};

export { DRIFT_BIN_NS, DRIFT_BINS, DRIFT_MAX_NS, DRIFT_MIN_NS } from './histogram.ts';
export { REJECTION_REASONS, type RejectionReason } from './rejection.ts';
export type { DtTotals } from './totals.ts';
