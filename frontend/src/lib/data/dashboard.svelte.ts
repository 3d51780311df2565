/**
 * The whole page's data: the analyses the API offers, pipeline health, and the sources the analysis
 * panels register; one poller refreshes them all in one tick.
 */
import type { AnalysisSource, PanelHost } from '../../analyses/types.ts';
import { ApiClient, type ApiResource } from '../api/client.ts';
import { type AnalysesAnswer, type AnalysisInfo, analysesAnswer } from '../api/schemas.ts';
import { HealthSource } from './health.svelte.ts';
import { Poller, type PollerOptions } from './poller.svelte.ts';

export interface DashboardOptions {
  readonly api?: ApiClient;
  readonly poller?: PollerOptions;
}

export class Dashboard implements PanelHost {
  analyses = $state.raw<readonly AnalysisInfo[] | undefined>(undefined);

  readonly api: ApiClient;
  readonly health: HealthSource;
  readonly poller: Poller;
  private readonly sources = new Set<AnalysisSource>();
  private readonly analysesResource: ApiResource<AnalysesAnswer>;

  constructor(options: DashboardOptions = {}) {
    this.api = options.api ?? new ApiClient();
    this.health = new HealthSource(this.api);
    this.analysesResource = this.api.resource(analysesAnswer);
    this.poller = new Poller((signal) => this.refresh(signal), options.poller);
  }

  register(source: AnalysisSource): () => void {
    this.sources.add(source);
    this.poller.nudge();
    return () => {
      this.sources.delete(source);
    };
  }

  async refresh(signal: AbortSignal): Promise<void> {
    const analyses = await this.analysesResource.get('/api/v1/analyses', signal);
    if (analyses.changed) this.analyses = analyses.value.analyses;
    await Promise.all([
      this.health.refresh(signal),
      ...[...this.sources].map((source) => source.refresh(signal)),
    ]);
  }

  start(): void {
    this.poller.start();
  }

  stop(): void {
    this.poller.stop();
  }
}
