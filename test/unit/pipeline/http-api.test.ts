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
import type { ItemKey, ItemStore, StoredItem, WriteCondition } from '../../../shared/pipeline/ports.ts';
import { replayObject } from '../../../shared/pipeline/replay.ts';
import { batchKey, replayKey, rollupKey } from '../../../shared/pipeline/state-keys.ts';
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
  request(
    request: Partial<HttpRequest>,
    store?: ItemStore,
    corsAllowOrigins?: readonly string[],
  ): Promise<HttpResponse>;
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
  const deps = (store_: ItemStore, corsAllowOrigins: readonly string[]): ApiDependencies => ({
    store: store_,
    analyses: allAnalyses(),
    corsAllowOrigins,
    now: clock.now,
    log: (message, details) => logs.push({ message, details }),
    reference: async () => undefined,
  });
  const request = (
    partial: Partial<HttpRequest>,
    store_: ItemStore = store,
    corsAllowOrigins: readonly string[] = [ALLOWED_ORIGIN],
  ) =>
    handleApiRequest(
      { method: 'GET', path: '/api/v1/analyses', query: {}, headers: {}, ...partial },
      deps(store_, corsAllowOrigins),
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
    '%s is a 405 with Allow: GET, HEAD, OPTIONS and a JSON message',
    async (method) => {
      // Act
      const response = await world.request({ method, path: '/api/v1/analyses' });

      // Assert
      expect(response.statusCode).toBe(405);
      // HEAD and OPTIONS are served too (it said `GET` only before).
      expect(response.headers.allow).toBe('GET, HEAD, OPTIONS');
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

// --- answers over more data than the world holds ----------------------------------------------

/** A store holding copies of `items`. */
async function storeWith(items: Iterable<StoredItem>): Promise<InMemoryItemStore> {
  const store = new InMemoryItemStore({ now: world.clock.now });
  for (const item of items) await store.put(item, undefined);
  return store;
}

/** Counts the items its queries return, per partition key: what one request read from the table. */
class ReadCountingStore implements ItemStore {
  private readonly itemsRead = new Map<string, number>();

  constructor(private readonly inner: ItemStore) {}

  get(key: ItemKey): Promise<StoredItem | undefined> {
    return this.inner.get(key);
  }

  put(item: StoredItem, condition: WriteCondition | undefined): Promise<boolean> {
    return this.inner.put(item, condition);
  }

  async query(pk: string, range?: Parameters<ItemStore['query']>[1]): Promise<StoredItem[]> {
    const items = await this.inner.query(pk, range);
    this.itemsRead.set(pk, this.read(pk) + items.length);
    return items;
  }

  read(pk: string): number {
    return this.itemsRead.get(pk) ?? 0;
  }
}

/** One item the world's pipeline wrote under `pk`: real payloads to copy. */
function templateOf(pk: string): StoredItem {
  const item = world.store.itemsOf(pk)[0];
  if (!item) throw new Error(`the world has no item under ${pk}`);
  return item;
}

function bytesOf(response: HttpResponse): number {
  return Buffer.byteLength(response.body, 'utf8');
}

/** The answers' budget is 1 MiB of buckets or batches, far below Lambda's 6 MB; the rest is small. */
const ANSWER_BOUND_BYTES = 1_100_000;

describe('handleApiRequest: bounded reads and answers', () => {
  it('buckets over 31 days answer pages of at most ~1 MB from at most 2,001 rollup items, which hold every bucket once', async () => {
    // Arrange: 400 buckets of 5 s (the default width), each written by 10 partitions: 6.4 MB at once.
    const template = templateOf('rollup#dt');
    const firstMs = world.clock.now() - 400 * 5_000;
    const rollups = function* () {
      for (let bucket = 0; bucket < 400; bucket++)
        for (let partition = 0; partition < 10; partition++)
          yield { ...template, ...rollupKey('dt', firstMs + bucket * 5_000, 'worst', RAW, partition) };
    };
    const store = new ReadCountingStore(await storeWith(rollups()));

    // Act: the request of the report, then the pages it points to.
    const pages: JsonObject[] = [];
    let query: Record<string, string> = { last: '2678400' };
    for (let page = 0; page < 100; page++) {
      const readBefore = store.read('rollup#dt');
      const response = await world.request({ path: '/api/v1/analyses/dt/buckets', query }, store);
      expect(response.statusCode).toBe(200);
      expect(bytesOf(response)).toBeLessThan(ANSWER_BOUND_BYTES);
      expect(store.read('rollup#dt') - readBefore).toBeLessThanOrEqual(2_001);
      const result = body(response);
      pages.push(result);
      if (result.nextFromMs === null || result.nextFromMs === undefined) break;
      query = { from: String(result.nextFromMs), to: String(result.toMs) };
    }

    // Assert
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.at(-1)?.nextFromMs).toBeNull();
    const buckets = pages.flatMap((page) => objects(page.buckets));
    expect(buckets.map((bucket) => bucket.bucketStartMs)).toEqual(
      Array.from({ length: 400 }, (_, index) => firstMs + index * 5_000),
    );
    const rowsPerItem = Number(asObject(template.payload).rows);
    for (const bucket of buckets) expect(bucket.rows).toBe(10 * rowsPerItem);
  });

  it('a bucket holding more rollup items than one request reads is a logged 500, never a partial bucket', async () => {
    // Arrange: 2,100 runs wrote into the same bucket.
    const template = templateOf('rollup#dt');
    const startMs = world.clock.now() - 60_000;
    const rollups = function* () {
      for (let run = 0; run < 2_100; run++)
        yield { ...template, ...rollupKey('dt', startMs, `run-${run}`, RAW, 0) };
    };
    const store = await storeWith(rollups());
    const logsBefore = world.logs.length;

    // Act
    const response = await world.request(
      { path: '/api/v1/analyses/dt/buckets', query: { last: '600' } },
      store,
    );

    // Assert
    expect(response.statusCode).toBe(500);
    expect(world.logs.length).toBe(logsBefore + 1);
    expect(JSON.stringify(world.logs.at(-1))).toContain('rollup items');
  });

  it('batches?limit=500 of large summaries answer at most ~1 MB each, and paging still yields every batch once', async () => {
    // Arrange: 600 dt batch summaries (16 KB each: 500 of them were 8 MB), one per millisecond.
    const template = templateOf('batch#dt');
    const firstMs = world.clock.now() - 60_000;
    const ids = Array.from({ length: 600 }, (_, index) => `worst-${String(index).padStart(4, '0')}`);
    const batches = ids.map((id, index) => ({
      ...template,
      ...batchKey('dt', firstMs + index, id),
      payload: { ...asObject(template.payload), msg_ID: id },
    }));
    const store = await storeWith(batches);

    // Act
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const response = await world.request(
        {
          path: '/api/v1/analyses/dt/batches',
          query: { limit: '500', ...(cursor === undefined ? {} : { since: cursor }) },
        },
        store,
      );
      expect(response.statusCode).toBe(200);
      expect(bytesOf(response)).toBeLessThan(ANSWER_BOUND_BYTES);
      const result = body(response);
      const items = batchIdsOf(result.items);
      if (items.length === 0) break;
      seen.push(...items.filter((id) => !seen.includes(id)));
      cursor = String(result.cursor);
    }
    const latest = await world.request(
      { path: '/api/v1/analyses/dt/batches', query: { since: 'latest', limit: '500' } },
      store,
    );

    // Assert
    expect(seen).toEqual(ids);
    expect(bytesOf(latest)).toBeLessThan(ANSWER_BOUND_BYTES);
    const newest = batchIdsOf(body(latest).items);
    expect(newest).toEqual(ids.slice(-newest.length));
    expect(body(latest).cursor).toBe(cursor);
  });

  it("summary?run= reads that run's states only, however many other runs the table holds", async () => {
    // Arrange: the world's state item copied under 50 runs × 10 partitions; run 'r#1' has 'r' as
    // its prefix up to the separator, so a range read of 'r' sees it too and must leave it out.
    const template = templateOf('state#dt');
    const runs = ['r', 'r#1', ...Array.from({ length: 48 }, (_, index) => `other-${index}`)];
    const states = runs.flatMap((run) =>
      Array.from({ length: 10 }, (_, partition) => ({ ...template, sk: `${run}#${RAW}#${partition}` })),
    );
    const store = new ReadCountingStore(await storeWith(states));
    const rowsPerState = Number(asObject(template.payload).rows);

    // Act
    const response = await world.request({ path: '/api/v1/analyses/dt/summary', query: { run: 'r' } }, store);

    // Assert
    expect(response.statusCode).toBe(200);
    expect(body(response)).toMatchObject({ runs: ['r'], partitions: 10, rows: 10 * rowsPerState });
    expect(store.read('state#dt')).toBe(20);
  });

  it('health over an hour of batches reads at most the newest 201 per analysis, and says the window was sampled', async () => {
    // Arrange: 1,000 dt batch summaries, one every 3.6 s over the last hour.
    const template = templateOf('batch#dt');
    const now = world.clock.now();
    const batches = Array.from({ length: 1_000 }, (_, index) => ({
      ...template,
      ...batchKey('dt', now - index * 3_600, `hour-${index}`),
      payload: { ...asObject(template.payload), msg_ID: `hour-${index}` },
    }));
    const store = new ReadCountingStore(await storeWith(batches));
    const rowsPerBatch = Number(asObject(asObject(template.payload).progress).numInputRows);

    // Act
    const response = await world.request({ path: '/api/v1/health', query: { window: '3600' } }, store);

    // Assert: the newest 200, from 199 × 3.6 s ago to now.
    expect(response.statusCode).toBe(200);
    expect(store.read('batch#dt')).toBeLessThanOrEqual(201);
    const health = body(response);
    expect(health).toMatchObject({
      windowSeconds: 3600,
      sampled: true,
      batches: 200,
      coveredSeconds: 716.4,
    });
    expect(health.rowsOutPerSecond).toBeCloseTo((200 * rowsPerBatch) / 716.4, 9);
  });

  it('health over a window with fewer batches than the bound covers the whole window', async () => {
    // Act
    const health = body(await world.get('/api/v1/health', { window: '600' }));

    // Assert
    expect(health).toMatchObject({ sampled: false, coveredSeconds: 600, batches: world.batchIds.length });
  });

  it('replays and health: 3,000 objects with 1,024-character keys answer at most 100 replays, running first, and say so', async () => {
    // Arrange: the world's replay checkpoint, for 3,000 objects; every 300th is still running.
    const template = asObject(templateOf('replay').payload);
    const replays = Array.from({ length: 3_000 }, (_, index) => {
      const key = `dt/${String(index).padStart(4, '0')}-${'k'.repeat(1_015)}`;
      const running = index % 300 === 0;
      return {
        ...replayKey(BUCKET, key),
        version: 1,
        payload: {
          ...template,
          key,
          run: `${key}@${'e'.repeat(32)}`,
          status: running ? 'running' : 'done',
          updatedAtMs: world.clock.now() - (index % 1_000) * 1_000,
          message: 'm'.repeat(2_000),
        },
      };
    });
    const store = new ReadCountingStore(await storeWith(replays));

    // Act
    const listed = await world.request({ path: '/api/v1/replays' }, store);
    const health = await world.request({ path: '/api/v1/health' }, store);

    // Assert
    for (const response of [listed, health]) {
      expect(response.statusCode).toBe(200);
      expect(bytesOf(response)).toBeLessThan(600_000);
      const answer = body(response);
      expect(answer.replaysTruncated).toBe(true);
      const views = objects(answer.replays);
      expect(views.length).toBeGreaterThan(0);
      expect(views.length).toBeLessThanOrEqual(100);
      const statuses = views.map((view) => view.status);
      expect(statuses).toEqual(
        [...statuses].sort((a, b) => Number(b === 'running') - Number(a === 'running')),
      );
      const done = views.filter((view) => view.status === 'done').map((view) => String(view.updatedAt));
      expect(done).toEqual([...done].sort().reverse());
    }
    expect(store.read('replay')).toBeLessThanOrEqual(2 * 1_001);
  });
});

describe('handleApiRequest: numbers are plain decimal integers', () => {
  it.each<{ path: string; name: string; value: string }>([
    { path: '/api/v1/analyses/dt/batches', name: 'limit', value: '0x1f4' },
    { path: '/api/v1/analyses/dt/batches', name: 'limit', value: '1e2' },
    { path: '/api/v1/analyses/dt/batches', name: 'limit', value: '010' },
    { path: '/api/v1/analyses/dt/batches', name: 'limit', value: '+10' },
    { path: '/api/v1/health', name: 'window', value: '6e1' },
    { path: '/api/v1/health', name: 'window', value: ' 60 ' },
    { path: '/api/v1/health', name: 'window', value: '60.0' },
    // API Gateway's form of a parameter given twice.
    { path: '/api/v1/health', name: 'window', value: '60,60' },
    { path: '/api/v1/analyses/dt/buckets', name: 'last', value: '0b11' },
    { path: '/api/v1/analyses/dt/buckets', name: 'last', value: '0o7' },
    { path: '/api/v1/analyses/dt/buckets', name: 'to', value: '' },
    { path: '/api/v1/analyses/dt/buckets', name: 'from', value: '' },
    { path: '/api/v1/analyses/dt/buckets', name: 'from', value: 'Infinity' },
    { path: '/api/v1/analyses/dt/buckets', name: 'to', value: '99999999999999999999' },
  ])('$name=$value is a 400 naming $name and the accepted form', async ({ path, name, value }) => {
    // Act
    const response = await world.get(path, { [name]: value });

    // Assert
    expect(response.statusCode).toBe(400);
    const message = String(body(response).error);
    expect(message).toMatch(new RegExp(`^invalid parameter ${name}: `));
    expect(message).toMatch(/decimal integer/);
  });

  it('plain decimal integers at the ends of their ranges are accepted', async () => {
    for (const [path, query] of [
      ['/api/v1/analyses/dt/batches', { limit: '1' }],
      ['/api/v1/analyses/dt/batches', { limit: '500' }],
      ['/api/v1/health', { window: '5' }],
      ['/api/v1/health', { window: '3600' }],
      ['/api/v1/analyses/dt/buckets', { last: '1' }],
      ['/api/v1/analyses/dt/buckets', { last: '2678400' }],
      ['/api/v1/analyses/dt/buckets', { from: '0', to: '0' }],
    ] as const) {
      const response = await world.get(path, query);
      expect(response.statusCode, `${path} ${JSON.stringify(query)}: ${response.body}`).toBe(200);
    }
  });
});

describe('handleApiRequest: HTTP details', () => {
  it("an allow-list entry '*' answers Access-Control-Allow-Origin: * to any origin, without Vary", async () => {
    // Act
    const headers = { origin: 'https://anyone.example.net' };
    const response = await world.request({ path: '/api/v1/analyses', headers }, world.store, ['*']);
    const preflight = await world.request(
      { method: 'OPTIONS', path: '/api/v1/analyses', headers },
      world.store,
      ['*'],
    );

    // Assert
    for (const answer of [response, preflight]) {
      expect(answer.headers['access-control-allow-origin']).toBe('*');
      expect(answer.headers.vary).toBeUndefined();
    }
  });

  it('without an allow-list: no CORS headers and no Vary', async () => {
    // Act
    const response = await world.request(
      { path: '/api/v1/analyses', headers: { origin: ALLOWED_ORIGIN } },
      world.store,
      [],
    );

    // Assert
    expect(response.statusCode).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    expect(response.headers.vary).toBeUndefined();
  });

  it('a preflight of an allowed origin may be cached for 10 minutes and names HEAD too', async () => {
    // Act
    const preflight = await world.request({
      method: 'OPTIONS',
      path: '/api/v1/analyses/dt/summary',
      headers: { origin: ALLOWED_ORIGIN, 'access-control-request-headers': 'if-none-match' },
    });

    // Assert
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-max-age']).toBe('600');
    expect(preflight.headers['access-control-allow-methods']).toContain('HEAD');
    expect(preflight.headers['access-control-allow-headers']).toBe('If-None-Match');
  });

  it.each<{ what: string; path: string; query?: Record<string, string> }>([
    { what: 'a path', path: `/api/v1/${'x'.repeat(200_000)}` },
    { what: 'an analysis id', path: `/api/v1/analyses/${'x'.repeat(200_000)}/summary` },
    { what: 'a parameter name', path: '/api/v1/analyses', query: { ['p'.repeat(200_000)]: '1' } },
  ])('$what of 200,000 characters is echoed cut to ~100, marked as cut', async ({ path, query }) => {
    // Act
    const response = await world.get(path, query ?? {});

    // Assert
    expect([400, 404]).toContain(response.statusCode);
    const message = String(body(response).error);
    expect(message.length).toBeLessThan(300);
    expect(message).toMatch(/… \(cut, 200,0\d\d characters\)/);
  });

  it('a 405 echoes at most ~100 characters of the method', async () => {
    const response = await world.request({ method: 'M'.repeat(10_000), path: '/api/v1/analyses' });
    expect(response.statusCode).toBe(405);
    expect(String(body(response).error).length).toBeLessThan(300);
  });

  it('every answer says X-Content-Type-Options: nosniff', async () => {
    // Arrange
    const broken = new InMemoryItemStore();
    broken.failNext('query');
    const etag = (await world.get('/api/v1/analyses')).headers.etag ?? '';

    // Act
    const answers = [
      await world.get('/api/v1/analyses'),
      await world.get('/api/v1/analyses', {}, { 'if-none-match': etag }),
      await world.request({ method: 'HEAD', path: '/api/v1/analyses' }),
      await world.request({
        method: 'OPTIONS',
        path: '/api/v1/analyses',
        headers: { origin: ALLOWED_ORIGIN },
      }),
      await world.get('/api/v1/health', { window: 'x' }),
      await world.get('/api/v1/nothing'),
      await world.request({ method: 'POST', path: '/api/v1/analyses' }),
      await world.request({ path: '/api/v1/analyses/dt/summary' }, broken),
    ];

    // Assert
    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 304, 200, 204, 400, 404, 405, 500]);
    for (const answer of answers) expect(answer.headers['x-content-type-options']).toBe('nosniff');
  });
});
