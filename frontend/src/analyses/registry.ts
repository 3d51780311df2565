/**
 * Which panel renders which analysis of GET /api/v1/analyses. Adding an analysis' dashboard: its
 * folder here and one line below. Analyses the API lists without a line get a short note.
 */
import DtPanels from './dt/DtPanels.svelte';
import SfPanels from './sf/SfPanels.svelte';
import type { AnalysisPanel } from './types.ts';

export const analysisPanels: Readonly<Record<string, AnalysisPanel>> = {
  dt: DtPanels,
  sf: SfPanels,
  // The same analysis with bounded deduplication state: the same panels.
  sfb: SfPanels,
};
