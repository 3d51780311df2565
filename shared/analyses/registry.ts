/**
 * The analyses driftline knows. An object's analysis is chosen by its key prefix (`dt/…`), a
 * record's by its origin header (core/record-headers.ts). Adding an analysis: its folder + one line here.
 */
import type { AnyAnalysis } from '../core/analysis.ts';
import { dtAnalysis } from './dt/index.ts';
import { createSfAnalysis, sfAnalysis } from './sf/index.ts';

const analyses: readonly AnyAnalysis[] = [
  dtAnalysis,
  sfAnalysis,
  // The same calls with bounded deduplication state (keys evicted past watermark − 60 min): the
  // remedy for the source job's unbounded state. Objects under sfb/ run with it.
  createSfAnalysis({ id: 'sfb', title: 'SF police calls (bounded dedup state)', dedup: 'bounded' }),
];

const byId = new Map(analyses.map((analysis) => [analysis.id, analysis]));

export function analysisById(id: string): AnyAnalysis | undefined {
  return byId.get(id);
}

export function allAnalyses(): readonly AnyAnalysis[] {
  return analyses;
}

/** The analysis of an S3 object, from the first segment of its key (`dt/run1/data.csv` → dt). */
export function analysisForObjectKey(objectKey: string): AnyAnalysis | undefined {
  const prefix = objectKey.split('/', 1)[0] ?? '';
  return byId.get(prefix);
}
