import { beforeAll, describe, expect, it } from 'vitest';
import { generateDt } from '../../../shared/analyses/dt/generator.ts';
import { allAnalyses, analysisById, analysisForObjectKey } from '../../../shared/analyses/registry.ts';
import type { Json, JsonObject } from '../../../shared/core/analysis.ts';
import { aggregateSlices, type BatchSlice } from '../../../shared/pipeline/aggregate.ts';
import {
  type ApiDependencies,
  type HttpRequest,
  type HttpResponse,
  handleApiRequest,
} from '../../../shared/pipeline/http-api.ts';
import type { ItemStore } from '../../../shared/pipeline/ports.ts';
import { replayObject } from '../../../shared/pipeline/replay.ts';
import {
  FakeClock,
  InMemoryItemStore,
  InMemoryObjectSource,
  RecordingPublisher,
  toBatchSlices,
} from '../../support/fakes.ts';
import { asObject, concat } from '../dt/fixtures.ts';

const BUCKET = 'driftline-data';
const RAW = 'data_raw';
const ALLOWED_ORIGIN = 'https://dashboard.example.org';

interface World {
  readonly clock: FakeClock;
  readonly store: InMemoryItemStore;
  readonly out: RecordingPublisher;
  readonly raw: RecordingPublisher;
  readonly logs: { message: string; details: Record<string, unknown> }[];
  /** Number of data rows and (counted here) chamber hits of the replayed object. */
  readonly rows: number;
  readonly hits: number;
  /** The batch ids aggregate reported. */
  readonly batchIds: string[];
  get(path: string, query?: Record<string, string>, headers?: Record<string, string>): Promise<HttpResponse>;
  request(request: Partial<HttpRequest>, store?: ItemStore): Promise<HttpResponse>;
}

/** Replays one CSV object (10 rows per record) into `raw`, with its progress in `store`. */
async function replayInto(
  world: { clock: FakeClock; store: InMemoryItemStore; raw: RecordingPublisher },
  key: string,
  bytes: Uint8Array,
): Promise<void> {
  const source = new InMemoryObjectSource();
  source.put(key, bytes, { 'rows-per-record': '10' });
  const outcome = await replayObject(
    { bucket: BUCKET, key },
    {
      analysisForKey: analysisForObjectKey,
      source,
      publisher: world.raw,
      store: world.store,
      rawTopic: RAW,
      partitions: 10,
      defaults: { rowsPerRecord: 1, rate: 0 },
      invocationId: `replay-${key}`,
      remainingMs: world.clock.deadline(900_000),
      continueLater: async () => {},
      now: world.clock.now,
      sleep: world.clock.sleep,
      log: () => {},
    },
  );
  expect(outcome.status).toBe('done');
}

function aggregateDeps(world: { clock: FakeClock; store: InMemoryItemStore; out: RecordingPublisher }) {
  return {
    analyses: analysisById,
    store: world.store,
    publisher: world.out,
    topics: { clean: 'data_clean', dead: 'data_dead' },
    bucketSeconds: 60,
    batchTtlSeconds: 86_400,
    now: world.clock.now,
  };
}

async function buildWorld(): Promise<World> {
  const clock = new FakeClock();
  const store = new InMemoryItemStore({ now: clock.now });
  const raw = new RecordingPublisher({ now: clock.now });
  const out = new RecordingPublisher({ now: clock.now });
  const bytes = concat([...generateDt({ rows: 2_000, seed: 80, format: 'csv' })]);
  const lines = Buffer.from(bytes).toString('utf8').split('\n').slice(1).filter(Boolean);
  const hits = lines.filter((line) => {
    const [head, , channel] = line.split(',');
    return head === '2' && Number(channel) <= 127;
  }).length;

  await replayInto({ clock, store, raw }, 'dt/api.csv', bytes);
  clock.advance(2_000);
  const outcomes = await aggregateSlices(
    toBatchSlices(raw, RAW, { maxRecords: 4 }),
    aggregateDeps({ clock, store, out }),
  );
  const logs: World['logs'] = [];
  const deps = (store_: ItemStore): ApiDependencies => ({
    store: store_,
    analyses: allAnalyses(),
    corsAllowOrigins: [ALLOWED_ORIGIN],
    now: clock.now,
    log: (message, details) => logs.push({ message, details }),
    reference: async () => undefined,
  });
  const request = (partial: Partial<HttpRequest>, store_: ItemStore = store) =>
    handleApiRequest(
      { method: 'GET', path: '/api/v1/analyses', query: {}, headers: {}, ...partial },
      deps(store_),
    );
  return {
    clock,
    store,
    out,
    raw,
    logs,
    rows: lines.length,
    hits,
    batchIds: outcomes.map((batch) => batch.batchId),
    get: (path, query = {}, headers = {}) => request({ path, query, headers }),
    request,
  };
}

function body(response: HttpResponse): JsonObject {
  expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
  return asObject(JSON.parse(response.body));
}

function objects(json: Json | undefined): JsonObject[] {
  if (!Array.isArray(json)) throw new Error('expected a JSON array');
  return json.map(asObject);
}

function batchIdsOf(json: Json | undefined): string[] {
  return objects(json).map((item) => String(item.msg_ID));
}

let world: World;
beforeAll(async () => {
  world = await buildWorld();
});

describe('handleApiRequest: errors', () => {
  it.each([
    '/',
    '/api',
    '/api/v2/analyses',
    '/api/v1/nothing',
    '/api/v1/analyses/dt/unknown-view',
    '/api/v1/analyses/dt/summary/extra',
    '/api/v1/replays/some-id',
    '/api/v1/health/x',
  ])('%s is a 404 with a JSON message', async (path) => {
    // Act
    const response = await world.get(path);

    // Assert
    expect(response.statusCode).toBe(404);
    expect(String(body(response).error)).toMatch(/no such resource/);
  });

  it('an unknown analysis is a 404 naming the known ones', async () => {
    // Act
    const response = await world.get('/api/v1/analyses/nope/summary');

    // Assert
    expect(response.statusCode).toBe(404);
    expect(body(response).error).toMatch(/^no analysis "nope" \(known: .*\bdt\b.*\)$/);
  });

  it.each<{ path: string; query: Record<string, string>; names: string }>([
    { path: '/api/v1/analyses', query: { verbose: '1' }, names: 'verbose' },
    { path: '/api/v1/analyses/dt/summary', query: { runs: 'x' }, names: 'runs' },
    { path: '/api/v1/analyses/dt/summary', query: { run: '' }, names: 'run' },
    { path: '/api/v1/analyses/dt/batches', query: { limit: '0' }, names: 'limit' },
    { path: '/api/v1/analyses/dt/batches', query: { limit: '501' }, names: 'limit' },
    { path: '/api/v1/analyses/dt/batches', query: { limit: 'ten' }, names: 'limit' },
    { path: '/api/v1/analyses/dt/batches', query: { since: 'yesterday' }, names: 'since' },
    { path: '/api/v1/analyses/dt/buckets', query: { last: '0' }, names: 'last' },
    { path: '/api/v1/analyses/dt/buckets', query: { last: '1.5' }, names: 'last' },
    { path: '/api/v1/analyses/dt/buckets', query: { from: '-1' }, names: 'from' },
    { path: '/api/v1/analyses/dt/buckets', query: { from: '5000', to: '1000' }, names: 'from' },
    { path: '/api/v1/analyses/dt/buckets', query: { from: '0', to: '4000000000' }, names: 'range' },
    { path: '/api/v1/health', query: { window: '4' }, names: 'window' },
    { path: '/api/v1/health', query: { window: 'abc' }, names: 'window' },
    { path: '/api/v1/replays', query: { status: 'done' }, names: 'status' },
  ])('$path?$query is a 400 naming $names', async ({ path, query, names }) => {
    // Act
    const response = await world.get(path, query);

    // Assert
    expect(response.statusCode).toBe(400);
    const message = String(body(response).error);
    expect(message).toMatch(/^invalid parameter/);
    expect(message).toContain(names);
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH'])(
    '%s is a 405 with Allow: GET and a JSON message',
    async (method) => {
      // Act
      const response = await world.request({ method, path: '/api/v1/analyses' });

      // Assert
      expect(response.statusCode).toBe(405);
      expect(response.headers.allow).toBe('GET');
      expect(String(body(response).error)).toContain(method);
    },
  );

  it('a store failure is a 500 that hides the internals, and is logged', async () => {
    // Arrange
    const broken = new InMemoryItemStore();
    broken.failNext('query', {
      error: () => new Error('ResourceNotFoundException: table driftline-state-prod at 10.1.2.3 is gone'),
    });
    const logsBefore = world.logs.length;

    // Act
    const response = await world.request(
      { path: '/api/v1/analyses/dt/summary', headers: { origin: ALLOWED_ORIGIN } },
      broken,
    );

    // Assert
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toMatch(/driftline-state-prod|10\.1\.2\.3|ResourceNotFound|at .*\.ts/);
    expect(Object.keys(body(response))).toEqual(['error']);
    expect(response.headers['access-control-allow-origin']).toBe(ALLOWED_ORIGIN);
    expect(world.logs.length).toBe(logsBefore + 1);
    expect(JSON.stringify(world.logs.at(-1))).toContain('driftline-state-prod');
  });
});

describe('handleApiRequest: caching and CORS', () => {
  it('answers with an ETag, then 304 with no body for If-None-Match', async () => {
    // Arrange
    const first = await world.get('/api/v1/analyses/dt/summary');
    const etag = first.headers.etag ?? '';

    // Act
    const revalidated = await world.get('/api/v1/analyses/dt/summary', {}, { 'if-none-match': etag });
    const stale = await world.get('/api/v1/analyses/dt/summary', {}, { 'if-none-match': '"something-else"' });

    // Assert
    expect(first.statusCode).toBe(200);
    expect(etag).toMatch(/^".+"$/);
    expect(revalidated.statusCode).toBe(304);
    expect(revalidated.body).toBe('');
    expect(revalidated.headers.etag).toBe(etag);
    expect(stale.statusCode).toBe(200);
    expect(stale.body).toBe(first.body);
  });

  it('the ETag changes when the data changes', async () => {
    // Arrange
    const before = await world.get('/api/v1/analyses/dt/summary');
    const extra: BatchSlice = {
      source: 'other',
      partition: 0,
      records: [
        {
          position: '0',
          timestampMs: world.clock.now(),
          value: Buffer.from('2,0,5,3387200947,100,10'),
          headers: new Map([
            ['driftline-analysis', 'dt'],
            ['driftline-run', 'etag-test'],
            ['driftline-seq', '0'],
          ]),
        },
      ],
    };
    const store = new InMemoryItemStore({ now: world.clock.now });
    for (const item of world.store.snapshot()) await store.put(item, undefined);
    await aggregateSlices(
      [extra],
      aggregateDeps({ clock: world.clock, store, out: new RecordingPublisher() }),
    );

    // Act
    const after = await world.request({ path: '/api/v1/analyses/dt/summary' }, store);

    // Assert
    expect(after.statusCode).toBe(200);
    expect(after.headers.etag).not.toBe(before.headers.etag);
  });

  it.each([
    { origin: ALLOWED_ORIGIN, allowed: true },
    { origin: 'https://evil.example.com', allowed: false },
    { origin: `${ALLOWED_ORIGIN}.evil.example.com`, allowed: false },
    { origin: undefined, allowed: false },
  ])('origin $origin: CORS headers only if allowed', async ({ origin, allowed }) => {
    // Act
    const response = await world.get('/api/v1/analyses', {}, origin === undefined ? {} : { origin });
    const preflight = await world.request({
      method: 'OPTIONS',
      path: '/api/v1/analyses',
      headers: origin === undefined ? {} : { origin },
    });

    // Assert
    expect(response.statusCode).toBe(200);
    expect(response.headers.vary).toBe('Origin');
    expect(preflight.statusCode).toBe(204);
    for (const headers of [response.headers, preflight.headers]) {
      if (allowed) {
        expect(headers['access-control-allow-origin']).toBe(origin);
        expect(headers['access-control-expose-headers']).toContain('ETag');
      } else {
        expect(headers['access-control-allow-origin']).toBeUndefined();
      }
    }
  });
});

describe('handleApiRequest: resources', () => {
  it('lists the analyses', async () => {
    const response = await world.get('/api/v1/analyses/');
    expect(response.statusCode).toBe(200);
    // Independent of the registry's contents: every analysis exactly once, dt among them.
    const ids = (body(response).analyses as { id: string }[]).map((analysis) => analysis.id);
    expect(ids).toContain('dt');
    expect(new Set(ids).size).toBe(ids.length);
    expect(body(response).analyses).toContainEqual({ id: 'dt', title: 'Drift-tube muon telescope' });
  });

  it('summary: the cumulative figures of the aggregated data', async () => {
    // Act
    const response = await world.get('/api/v1/analyses/dt/summary');
    const ofRun = await world.get('/api/v1/analyses/dt/summary', { run: 'dt/api.csv@no-such-run' });

    // Assert
    const summary = body(response);
    expect(summary).toMatchObject({ analysis: 'dt', rows: world.rows, rejectedRows: 0, partitions: 10 });
    expect(summary.runs).toHaveLength(1);
    expect(asObject(summary.summary).hit_count).toBe(world.hits);
    expect(body(ofRun)).toMatchObject({ runs: [], rows: 0 });
  });

  it('buckets: the rollups of the last minutes add up to every row', async () => {
    // Act
    const response = await world.get('/api/v1/analyses/dt/buckets', { last: '600' });
    const explicit = await world.get('/api/v1/analyses/dt/buckets', {
      from: String(world.clock.now() - 600_000),
      to: String(world.clock.now()),
    });
    const longAgo = await world.get('/api/v1/analyses/dt/buckets', { from: '0', to: '1000' });

    // Assert
    const result = body(response);
    expect(result).toMatchObject({
      analysis: 'dt',
      toMs: world.clock.now(),
      fromMs: world.clock.now() - 600_000,
    });
    const buckets = objects(result.buckets);
    expect(buckets.length).toBeGreaterThanOrEqual(1);
    expect(buckets.reduce((sum, bucket) => sum + Number(bucket.rows), 0)).toBe(world.rows);
    expect(body(explicit).buckets).toEqual(buckets);
    expect(body(longAgo).buckets).toEqual([]);
  });

  it('batches: paging with the returned cursor yields every batch exactly once, then nothing', async () => {
    // Act
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1_000; page++) {
      const response = await world.get('/api/v1/analyses/dt/batches', {
        limit: '7',
        ...(cursor === undefined ? {} : { since: cursor }),
      });
      expect(response.statusCode).toBe(200);
      const result = body(response);
      const items = batchIdsOf(result.items);
      expect(items.length).toBeLessThanOrEqual(7);
      if (items.length === 0) {
        expect(result.cursor).toBe(cursor ?? null);
        break;
      }
      seen.push(...items);
      cursor = String(result.cursor);
    }

    // Assert
    expect(seen.length).toBeGreaterThan(20);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...world.batchIds].sort());
  });

  it('batches?since=latest: the newest N in write order, and the cursor a reader of everything ends at', async () => {
    // Arrange: every batch in write order, read from the oldest, and the cursor after the last.
    const everything = body(await world.get('/api/v1/analyses/dt/batches', { limit: '500' }));
    const all = batchIdsOf(everything.items);
    expect(all.length).toBeGreaterThan(5);

    // Act
    const latest = body(await world.get('/api/v1/analyses/dt/batches', { since: 'latest', limit: '5' }));

    // Assert: the last five, oldest first; polling on from here is polling on from the end.
    expect(batchIdsOf(latest.items)).toEqual(all.slice(-5));
    expect(latest.cursor).toBe(everything.cursor);
  });

  it('replays: the progress of the replayed object', async () => {
    const response = await world.get('/api/v1/replays');
    expect(response.statusCode).toBe(200);
    const replays = objects(body(response).replays);
    expect(replays).toHaveLength(1);
    expect(replays[0]).toMatchObject({
      bucket: BUCKET,
      key: 'dt/api.csv',
      analysis: 'dt',
      status: 'done',
      rowsSent: world.rows,
      rowsPerRecord: 10,
      fraction: 1,
      etaSeconds: null,
      stale: false,
      message: null,
    });
  });

  it('health: rows out, batches, latency and replays over the window', async () => {
    // Act
    const response = await world.get('/api/v1/health', { window: '600' });

    // Assert
    const health = body(response);
    expect(health).toMatchObject({
      windowSeconds: 600,
      rowsInPerSecond: 0,
      rowsOutPerSecond: world.rows / 600,
      batches: world.batchIds.length,
      rejectedRows: 0,
      rejectedByReason: {},
      // Records were produced 2 s before the batches ran (fake clock).
      latencyMs: { p50: 2_000, p99: 2_000, max: 2_000 },
      lastBatchAtMs: world.clock.now(),
    });
    expect(health.replays).toHaveLength(1);
  });

  it('HEAD answers like GET without a body', async () => {
    const get = await world.get('/api/v1/analyses/dt/summary');
    const head = await world.request({ method: 'HEAD', path: '/api/v1/analyses/dt/summary' });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers.etag).toBe(get.headers.etag);
  });
});

describe('handleApiRequest: cursors in less common cases', () => {
  // Regression test; the bug it caught was: batch summaries are sorted by the *producer* timestamp
  // of their last record, but a cursor only moves forward. A batch of an older partition backlog (or a
  // slower Lambda) written after the dashboard has polled sorts before the cursor and is never
  // returned by `batches?since=`. Fixed by: key batch summaries by a write-ordered value (receivedAt, or a
  // per-analysis counter), and/or let clients re-read a margin behind the cursor and dedupe by batchId.
  it('a batch written after a poll is returned by the next poll, even if its records are older', async () => {
    // Arrange: partition 1's records are 10 s newer than partition 0's; partition 1 is aggregated first.
    const clock = new FakeClock();
    const store = new InMemoryItemStore({ now: clock.now });
    const record = (timestampMs: number) => ({
      position: '0',
      timestampMs,
      value: Buffer.from('2,0,5,3387200947,100,10'),
      headers: new Map([
        ['driftline-analysis', 'dt'],
        ['driftline-run', 'late'],
        ['driftline-seq', '0'],
      ]),
    });
    const deps = aggregateDeps({ clock, store, out: new RecordingPublisher() });
    const api = (query: Record<string, string>) =>
      handleApiRequest(
        { method: 'GET', path: '/api/v1/analyses/dt/batches', query, headers: {} },
        {
          store,
          analyses: allAnalyses(),
          corsAllowOrigins: [],
          now: clock.now,
          log: () => {},
          reference: async () => undefined,
        },
      );
    await aggregateSlices([{ source: RAW, partition: 1, records: [record(clock.now())] }], deps);
    const firstPoll = body(await api({}));

    // Act
    await aggregateSlices([{ source: RAW, partition: 0, records: [record(clock.now() - 10_000)] }], deps);
    const secondPoll = body(await api({ since: String(firstPoll.cursor) }));

    // Assert: the late batch is there (the answer may repeat batches from just before the cursor,
    // which clients drop by id).
    expect(batchIdsOf(secondPoll.items)).toContain(`${RAW}-0-0-0`);
  });

  // Regression test; the bug it caught was: the `since` pattern accepts only [\w.:~#@/ -] after the timestamp, but the
  // cursor is a sort key containing the batch id, and a slice holding several runs gets the id
  // `<batch>~<analysis>~<run>` where the run is `<object key>@<etag>`: an object key with `=`, `+`,
  // `,`, `(`… (all legal in S3 keys) yields a cursor the API itself rejects with 400. Fixed by: return an
  // opaque cursor (base64url of the sort key) and validate that, or widen the pattern to any
  // printable character.
  it('the cursor of a batch from an object key with "=" is accepted back', async () => {
    // Arrange: two objects replayed into the same partitions, one slice holds both runs.
    const clock = new FakeClock();
    const store = new InMemoryItemStore({ now: clock.now });
    const raw = new RecordingPublisher({ now: clock.now });
    const out = new RecordingPublisher({ now: clock.now });
    for (const [key, seed] of [
      ['dt/date=2024-05-01/a.csv', 81],
      ['dt/date=2024-05-02/b.csv', 82],
    ] as const) {
      await replayInto(
        { clock, store, raw },
        key,
        concat([...generateDt({ rows: 300, seed, format: 'csv' })]),
      );
    }
    const outcomes = await aggregateSlices(toBatchSlices(raw, RAW), aggregateDeps({ clock, store, out }));
    expect(outcomes.some((outcome) => outcome.batchId.includes('='))).toBe(true);
    const api = (query: Record<string, string>) =>
      handleApiRequest(
        { method: 'GET', path: '/api/v1/analyses/dt/batches', query, headers: {} },
        {
          store,
          analyses: allAnalyses(),
          corsAllowOrigins: [],
          now: clock.now,
          log: () => {},
          reference: async () => undefined,
        },
      );
    const first = body(await api({ limit: '1' }));

    // Act
    const next = await api({ limit: '1', since: String(first.cursor) });

    // Assert
    // The cursor is opaque (base64url), so whatever the key holds it comes back accepted.
    expect(String(first.cursor)).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(next.statusCode).toBe(200);
  });
});
