/**
 * The contracts (shared/contracts/, shared/analyses/<id>/summary-schema.ts) against the code that
 * writes them: the real replay, aggregate and API code over in-memory fakes. Every `data_clean`
 * message and every API answer must parse, and exactly: zod objects strip unknown keys and defaults
 * fill missing ones, so a parsed value equal to its input has neither an unknown nor a missing field.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateDt } from '../../../shared/analyses/dt/generator.ts';
import { dtSummarySchema } from '../../../shared/analyses/dt/summary-schema.ts';
import { allAnalyses, analysisById, analysisForObjectKey } from '../../../shared/analyses/registry.ts';
import { parseRadioCodes } from '../../../shared/analyses/sf/index.ts';
import { sfSummarySchema } from '../../../shared/analyses/sf/summary-schema.ts';
import {
  analysesAnswer,
  batchesAnswerOf,
  bucketsAnswerOf,
  healthAnswer,
  replaysAnswer,
  summaryAnswerOf,
} from '../../../shared/contracts/api.ts';
import { cleanMessageOf } from '../../../shared/contracts/clean-message.ts';
import type { Json, JsonObject } from '../../../shared/core/analysis.ts';
import { aggregateSlices } from '../../../shared/pipeline/aggregate.ts';
import { type BatchSlice, type SliceRecord, sliceOf } from '../../../shared/pipeline/batch-slice.ts';
import { type HttpResponse, handleApiRequest } from '../../../shared/pipeline/http-api.ts';
import { replayObject } from '../../../shared/pipeline/replay.ts';
import {
  FakeClock,
  InMemoryItemStore,
  InMemoryObjectSource,
  RecordingPublisher,
  topicLog,
} from '../../support/fakes.ts';
import { asObject, concat } from '../dt/fixtures.ts';
import { call } from '../sf/fixtures.ts';

const BUCKET = 'driftline-data';
const RAW = 'data_raw';
const CLEAN = 'data_clean';
const DEAD = 'data_dead';
const PARTITIONS = 10;
const RECORDS_PER_SLICE = 7;
/** Fields the messages carried twice; `msg_ID` and `rows_rejected` / `rejected_by_reason` stay. */
const DROPPED_DUPLICATES = ['batchId', 'rejectedRows', 'rejectedByReason'];

const summarySchemas: Record<string, z.ZodObject> = {
  dt: dtSummarySchema,
  sf: sfSummarySchema,
  sfb: sfSummarySchema,
};

function summarySchemaOf(analysis: Json | undefined): z.ZodObject {
  const schema = summarySchemas[String(analysis)];
  if (!schema) throw new Error(`no summary schema for analysis ${String(analysis)}`);
  return schema;
}

/** Parses `value` with `schema` and requires the result to be the value itself. */
function expectExact(schema: z.ZodType, value: unknown, what: string): void {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`${what}: ${z.prettifyError(parsed.error)}`);
  expect(parsed.data, what).toStrictEqual(value);
}

const encoder = new TextEncoder();

/** A dt CSV with rows the analysis rejects among the generated ones. */
function dtObject(seed: number): Uint8Array {
  const text = Buffer.from(concat([...generateDt({ rows: 600, seed, format: 'csv' })])).toString('utf8');
  const lines = text.split('\n').filter(Boolean);
  lines.splice(40, 0, '2,0,5,3387200947', 'garbage');
  lines.splice(300, 0, '2,0,x,3387200947,1,2');
  return encoder.encode(`${lines.join('\n')}\n`);
}

/** Calls as JSON lines over two hours of event time, with a duplicate, an empty field, two bad rows. */
function sfObject(): Uint8Array {
  const rows: string[] = [];
  for (let index = 0; index < 120; index++) {
    const minute = String(index % 60).padStart(2, '0');
    rows.push(
      call({
        time: `${10 + Math.floor(index / 60)}:${minute}`,
        type: index % 3 === 0 ? 'Traffic Stop' : 'Passing Call',
        crimeId: String(index),
      }),
    );
  }
  rows.push(rows[5] ?? '', call({ time: '12:00', disposition: '' }), '{"not": "a call"', '[]');
  return encoder.encode(`${rows.join('\n')}\n`);
}

const RADIO_CODES = parseRadioCodes(JSON.stringify([{ disposition_code: 'HAN', description: 'Handled' }]));

/** Records no analysis can take: no `driftline-*` headers (and no default analysis), an unknown one. */
function unroutedRecords(from: number, timestampMs: number): SliceRecord[] {
  return [
    {
      position: String(from),
      timestampMs,
      value: encoder.encode('2,0,5,3387200947,1,2'),
      headers: new Map(),
    },
    {
      position: String(from + 1),
      timestampMs,
      value: encoder.encode('{}'),
      headers: new Map([['driftline-analysis', 'nyc']]),
    },
  ];
}

interface World {
  readonly clock: FakeClock;
  readonly out: RecordingPublisher;
  get(path: string, query?: Record<string, string>): Promise<JsonObject>;
}

async function buildWorld(): Promise<World> {
  const clock = new FakeClock();
  const store = new InMemoryItemStore({ now: clock.now });
  const raw = new RecordingPublisher({ now: clock.now });
  const out = new RecordingPublisher({ now: clock.now });
  const source = new InMemoryObjectSource();
  const objects: [string, Uint8Array][] = [
    ['dt/a.csv', dtObject(90)],
    ['dt/b.csv', dtObject(91)],
    ['sf/calls.ndjson', sfObject()],
    ['sfb/calls.ndjson', sfObject()],
    // Refused (no such format): a replay with a message.
    ['dt/notes.pdf', encoder.encode('not rows')],
  ];
  for (const [key, bytes] of objects) {
    source.put(key, bytes, { 'rows-per-record': '3' });
    await replayObject(
      { bucket: BUCKET, key },
      {
        analysisForKey: analysisForObjectKey,
        source,
        publisher: raw,
        store,
        rawTopic: RAW,
        partitions: PARTITIONS,
        defaults: { rowsPerRecord: 1, rate: 0 },
        invocationId: `replay-${key}`,
        remainingMs: clock.deadline(900_000),
        continueLater: async () => {},
        now: clock.now,
        sleep: clock.sleep,
        log: () => {},
      },
    );
    clock.advance(1_000);
  }

  // Trigger-sized slices; partition 0 also carries records no analysis can take.
  const slices: BatchSlice[] = [];
  for (const [partition, records] of [...topicLog(raw, RAW, PARTITIONS)].sort(([a], [b]) => a - b)) {
    const all = partition === 0 ? [...records, ...unroutedRecords(records.length, clock.now())] : records;
    for (let start = 0; start < all.length; start += RECORDS_PER_SLICE)
      slices.push(sliceOf(RAW, partition, all.slice(start, start + RECORDS_PER_SLICE)));
  }
  clock.advance(2_000);
  const deps = {
    analyses: analysisById,
    store,
    publisher: out,
    topics: { clean: CLEAN, dead: DEAD },
    bucketSeconds: 60,
    batchTtlSeconds: 86_400,
    now: clock.now,
  };
  await aggregateSlices(slices, deps);
  // The trigger retrying the whole event: every batch was applied, the last one of each partition
  // state is published again from its stored summary.
  await aggregateSlices(slices, deps);

  const get = async (path: string, query: Record<string, string> = {}): Promise<JsonObject> => {
    const response: HttpResponse = await handleApiRequest(
      { method: 'GET', path, query, headers: {} },
      {
        store,
        analyses: allAnalyses(),
        corsAllowOrigins: [],
        reference: async (analysis) => (analysis.reference ? RADIO_CODES : undefined),
        now: clock.now,
        log: () => {},
      },
    );
    expect(response.statusCode, `${path} ${JSON.stringify(query)}: ${response.body}`).toBe(200);
    return asObject(JSON.parse(response.body));
  };
  return { clock, out, get };
}

function jsonTexts(publisher: RecordingPublisher, topic: string): JsonObject[] {
  return publisher.texts(topic).map((text) => asObject(JSON.parse(text)));
}

describe('data_clean messages', () => {
  let world: World;
  let messages: JsonObject[];
  let deadLetters: JsonObject[];

  beforeAll(async () => {
    world = await buildWorld();
    messages = jsonTexts(world.out, CLEAN);
    // A retried batch may send its dead letters again, under the same key (the row's coordinates).
    const byKey = new Map(world.out.messages(DEAD).map((message) => [message.key, message.value]));
    deadLetters = [...byKey.values()].map((value) =>
      asObject(JSON.parse(Buffer.from(value).toString('utf8'))),
    );
  });

  it('are exactly the shared schema of their analysis, republished ones too', () => {
    const analyses = new Set(messages.map((message) => message.analysis));
    expect([...analyses].sort()).toEqual(['dt', 'sf', 'sfb']);
    const ids = messages.map((message) => String(message.msg_ID));
    // The retry republished some; a slice holding two runs gave two batches with suffixed ids.
    expect(new Set(ids).size).toBeLessThan(ids.length);
    expect(ids.some((id) => id.includes('~'))).toBe(true);
    for (const message of messages) {
      expectExact(cleanMessageOf(summarySchemaOf(message.analysis)), message, `message ${message.msg_ID}`);
    }
  });

  it('carry each fact once: msg_ID for the batch id, rows_rejected / rejected_by_reason for rejections', () => {
    for (const message of messages) {
      for (const field of DROPPED_DUPLICATES)
        expect(message, String(message.msg_ID)).not.toHaveProperty(field);
    }
  });

  it('count as rejected exactly the data_dead letters of their batch and run', () => {
    const unique = new Map(messages.map((message) => [String(message.msg_ID), message]));
    let counted = 0;
    for (const [id, message] of unique) {
      const letters = deadLetters.filter((letter) => letter.batchId === id && letter.run === message.run);
      const byReason: Record<string, number> = {};
      for (const letter of letters)
        byReason[String(letter.reason)] = (byReason[String(letter.reason)] ?? 0) + 1;
      expect(message.rows_rejected, id).toBe(letters.length);
      expect(message.rejected_by_reason, id).toEqual(byReason);
      counted += letters.length;
    }
    // dt: 3 per object; sf: the bad row and the array, per object.
    expect(counted).toBe(10);
    // Rows aggregate refused before any analysis saw them are in no batch summary: they have no run.
    const unrouted = deadLetters.filter((letter) => letter.run === null);
    expect(unrouted.map((letter) => letter.reason).sort()).toEqual(['bad-origin', 'unknown-analysis']);
    expect(counted + unrouted.length).toBe(deadLetters.length);
  });
});

describe('API answers', () => {
  let world: World;

  beforeAll(async () => {
    world = await buildWorld();
  });

  it('GET /analyses', async () => {
    expectExact(analysesAnswer, await world.get('/api/v1/analyses'), 'analyses');
  });

  it.each(['dt', 'sf', 'sfb'])('GET /analyses/%s/summary, over all runs and one', async (id) => {
    const schema = summaryAnswerOf(summarySchemaOf(id));
    const all = await world.get(`/api/v1/analyses/${id}/summary`);
    expectExact(schema, all, `${id} summary`);
    const [run] = z.object({ runs: z.array(z.string()).min(1) }).parse(all).runs;
    expectExact(schema, await world.get(`/api/v1/analyses/${id}/summary`, { run: String(run) }), `${id} run`);
  });

  it('GET /analyses/sf/summary joins the radio codes into the schema', async () => {
    const answer = summaryAnswerOf(sfSummarySchema).parse(await world.get('/api/v1/analyses/sf/summary'));
    expect(answer.summary.disposition_descriptions?.codes_in_table).toBe(1);
    expect(answer.summary.dispositions.find((entry) => entry.disposition === 'HAN')?.description).toBe(
      'Handled',
    );
  });

  it.each(['dt', 'sf', 'sfb'])('GET /analyses/%s/buckets', async (id) => {
    const answer = await world.get(`/api/v1/analyses/${id}/buckets`, {
      from: String(world.clock.now() - 600_000),
      to: String(world.clock.now()),
    });
    expectExact(bucketsAnswerOf(summarySchemaOf(id)), answer, `${id} buckets`);
    expect(answer.buckets).not.toEqual([]);
  });

  it.each(['dt', 'sf', 'sfb'])(
    'GET /analyses/%s/batches, from the start, after a cursor, the latest',
    async (id) => {
      const schema = batchesAnswerOf(summarySchemaOf(id));
      const first = await world.get(`/api/v1/analyses/${id}/batches`, { limit: '5' });
      expectExact(schema, first, `${id} batches`);
      const { cursor } = z.object({ cursor: z.string() }).parse(first);
      expectExact(schema, await world.get(`/api/v1/analyses/${id}/batches`, { since: cursor }), `${id} next`);
      expectExact(
        schema,
        await world.get(`/api/v1/analyses/${id}/batches`, { since: 'latest' }),
        `${id} latest`,
      );
      for (const item of z.object({ items: z.array(z.record(z.string(), z.unknown())) }).parse(first).items) {
        for (const field of DROPPED_DUPLICATES) expect(item).not.toHaveProperty(field);
      }
    },
  );

  it('GET /replays', async () => {
    const answer = await world.get('/api/v1/replays');
    expectExact(replaysAnswer, answer, 'replays');
    const { replays } = replaysAnswer.parse(answer);
    expect(replays.map((replay) => replay.status).sort()).toEqual([
      'done',
      'done',
      'done',
      'done',
      'refused',
    ]);
  });

  it('GET /health sums the batch summaries’ rejection counts', async () => {
    const answer = await world.get('/api/v1/health', { window: '3600' });
    expectExact(healthAnswer, answer, 'health');
    expect(healthAnswer.parse(answer)).toMatchObject({
      rejectedRows: 10,
      unroutedRows: 2,
      unroutedByReason: { 'bad-origin': 1, 'unknown-analysis': 1 },
    });
  });
});
