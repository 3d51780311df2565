/**
 * Pipeline health (GET /api/v1/health): the latest figures, and a bounded history of them sampled
 * once per successful tick for the throughput and latency charts.
 */
import type { ApiClient, ApiResource } from '../api/client.ts';
import { type HealthAnswer, healthAnswer } from '../api/schemas.ts';
import { RingBuffer } from './ring-buffer.ts';

export interface HealthSample {
  readonly atMs: number;
  readonly rowsInPerSecond: number;
  readonly rowsOutPerSecond: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

export class HealthSource {
  latest = $state.raw<HealthAnswer | undefined>(undefined);
  samples = $state.raw<readonly HealthSample[]>([]);

  private readonly resource: ApiResource<HealthAnswer>;
  private readonly ring: RingBuffer<HealthSample>;

  constructor(
    api: ApiClient,
    readonly windowSeconds = 30,
    capacity = 300,
    private readonly now: () => number = Date.now,
  ) {
    this.resource = api.resource(healthAnswer);
    this.ring = new RingBuffer(capacity);
  }

  async refresh(signal: AbortSignal): Promise<void> {
    const { value, changed } = await this.resource.get(`/api/v1/health?window=${this.windowSeconds}`, signal);
    if (changed) this.latest = value;
    this.ring.push({
      atMs: this.now(),
      rowsInPerSecond: value.rowsInPerSecond,
      rowsOutPerSecond: value.rowsOutPerSecond,
      p50Ms: value.latencyMs.p50,
      p99Ms: value.latencyMs.p99,
    });
    this.samples = this.ring.toArray();
  }
}
