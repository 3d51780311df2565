import type { Component } from 'svelte';
import type { ApiClient } from '../lib/api/client.ts';
import type { AnalysisInfo } from '../lib/api/schemas.ts';

/** What the dashboard's poller refreshes on every tick for one analysis. */
export interface AnalysisSource {
  readonly analysisId: string;
  refresh(signal: AbortSignal): Promise<void>;
}

/** What a panel registers itself with: the API, and the poller's list of sources. */
export interface PanelHost {
  readonly api: ApiClient;
  /** Adds a source to every refresh; returns the function that removes it. */
  register(source: AnalysisSource): () => void;
}

/** Props of an analysis' top-level panel component (one per analysis id, see registry.ts). */
export interface AnalysisPanelProps {
  readonly analysis: AnalysisInfo;
  readonly host: PanelHost;
}

export type AnalysisPanel = Component<AnalysisPanelProps>;
