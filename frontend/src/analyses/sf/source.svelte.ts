/**
 * The sf analysis' data for its panels (also `sfb`, the same analysis with bounded deduplication),
 * kept current by the dashboard's poller: the cumulative summary, with an ETag, so a pipeline with
 * nothing new answers 304 and nothing here changes. Everything the panels show is in that one body:
 * crime types, dispositions (descriptions joined by the API), the recent event-time windows with
 * their top types, the counters and event-time progress. Components only derive and render.
 */
import type { ApiClient, ApiResource } from '../../lib/api/client.ts';
import { type SummaryAnswer, summaryAnswer } from '../../lib/api/schemas.ts';
import type { AnalysisSource } from '../types.ts';
import {
  type DispositionRow,
  dispositionRows,
  formatEventClock,
  lastWindow,
  parseSfSummary,
  type SfCounts,
  type SfWindow,
  type TopList,
  topN,
} from './summary.ts';

export type SfViewMode = 'cumulative' | 'window';

/** Bars in the top crime types chart. */
export const TOP_TYPES = 15;
/** Lines in the windowed counts chart. */
export const LINE_TYPES = 5;

export interface SfCumulative {
  readonly runs: readonly string[];
  readonly partitions: number;
  readonly rows: number;
  readonly batches: number;
  readonly rejectedRows: number;
  readonly counts: SfCounts;
}

export interface SfTypesView {
  readonly top: TopList;
  readonly caption: string;
  /** The window shown, in window mode. */
  readonly window: SfWindow | undefined;
}

export class SfSource implements AnalysisSource {
  readonly analysisId: string;

  cumulative = $state.raw<SfCumulative | undefined>(undefined);
  /** A summary the dashboard could not read (shown, while the last good one stays). */
  problem = $state<string | null>(null);

  view = $state<SfViewMode>('cumulative');
  /** The window chosen in window mode (its start, ms); null follows the last window. */
  windowStartMs = $state<number | null>(null);

  /** The recent event-time windows, oldest first. */
  readonly windows = $derived(this.cumulative?.counts.windows ?? []);

  /** The window shown in window mode: the chosen one while it is listed, else the last one. */
  readonly selectedWindow = $derived.by((): SfWindow | undefined => {
    const chosen = this.windowStartMs;
    const listed = chosen === null ? undefined : this.windows.find((window) => window.startMs === chosen);
    return listed ?? lastWindow(this.windows);
  });

  /** The bars of the top crime types chart, for the chosen view. */
  readonly typesView = $derived.by((): SfTypesView => {
    const counts = this.cumulative?.counts;
    if (this.view === 'cumulative') {
      return {
        top: topN(counts?.crimeTypes ?? [], TOP_TYPES, { totalTypes: counts?.crimeTypeCount }),
        caption: 'distinct calls since the start of the runs',
        window: undefined,
      };
    }
    const window = this.selectedWindow;
    if (!window) return { top: topN([], TOP_TYPES), caption: 'no event-time window yet', window };
    return {
      top: topN(window.top, TOP_TYPES, { totalTypes: window.crimeTypes, totalCalls: window.rows }),
      caption:
        `event-time window ${formatEventClock(window.startMs)}–${formatEventClock(window.endMs)} ` +
        `(SF local, ${window.final ? 'closed' : 'still open'})`,
      window,
    };
  });

  /** The crime types the windowed chart follows: the cumulative top 5. */
  readonly lineTypes = $derived(
    (this.cumulative?.counts.crimeTypes ?? []).slice(0, LINE_TYPES).map((type) => type.name),
  );

  readonly dispositions = $derived<readonly DispositionRow[]>(
    dispositionRows(this.cumulative?.counts.dispositions ?? []),
  );

  private readonly summaryResource: ApiResource<SummaryAnswer>;

  constructor(api: ApiClient, analysisId = 'sf') {
    this.analysisId = analysisId;
    this.summaryResource = api.resource(summaryAnswer);
  }

  setView(view: SfViewMode): void {
    this.view = view;
  }

  /** Choosing a window (null: the last one) also switches to window mode. */
  chooseWindow(startMs: number | null): void {
    this.windowStartMs = startMs;
    this.view = 'window';
  }

  async refresh(signal: AbortSignal): Promise<void> {
    const { value, changed } = await this.summaryResource.get(
      `/api/v1/analyses/${encodeURIComponent(this.analysisId)}/summary`,
      signal,
    );
    if (!changed) return;
    const parsed = parseSfSummary(value.summary);
    if ('error' in parsed) {
      this.problem = `the summary is not an sf summary (${parsed.error})`;
      return;
    }
    this.problem = null;
    this.cumulative = {
      runs: value.runs,
      partitions: value.partitions,
      rows: value.rows,
      batches: value.batches,
      rejectedRows: value.rejectedRows,
      counts: parsed.counts,
    };
  }
}
