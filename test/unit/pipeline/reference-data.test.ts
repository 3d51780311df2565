import { describe, expect, it } from 'vitest';
import { analysisById } from '../../../shared/analyses/registry.ts';
import { createReferenceLoader, enrichSummary } from '../../../shared/pipeline/reference-data.ts';
import { FakeClock, InMemoryObjectSource } from '../../support/fakes.ts';

const sf = analysisById('sf');
const dt = analysisById('dt');
const codes = (description: string) =>
  new TextEncoder().encode(
    JSON.stringify([
      { disposition_code: 'ADM', description },
      { disposition_code: 'CIT', description: 'Cited' },
    ]),
  );
const summary = {
  dispositions: [
    { disposition: 'ADM', count: 3 },
    { disposition: 'Not recorded', count: 2 },
  ],
};

describe('reference data for the API (sf radio codes)', () => {
  it('left-joins descriptions into a summary, keeping codes the table does not know', async () => {
    // Arrange
    if (!sf) throw new Error('sf is not registered');
    const source = new InMemoryObjectSource();
    source.put('sf/radio_code.json', codes('Admonished'));
    const load = createReferenceLoader({ source, bucket: 'b', ttlMs: 1000, now: () => 0, log: () => {} });

    // Act
    const joined = enrichSummary(sf, summary, await load(sf));

    // Assert
    expect(joined.dispositions).toEqual([
      { disposition: 'ADM', count: 3, description: 'Admonished' },
      { disposition: 'Not recorded', count: 2, description: null },
    ]);
    expect(joined.disposition_descriptions).toMatchObject({ rows_described: 3, rows_without_description: 2 });
  });

  it('re-reads the object only when its ETag changed, at most once per ttl', async () => {
    // Arrange
    if (!sf) throw new Error('sf is not registered');
    const clock = new FakeClock();
    const source = new InMemoryObjectSource();
    source.put('sf/radio_code.json', codes('Admonished'));
    const load = createReferenceLoader({ source, bucket: 'b', ttlMs: 1000, now: clock.now, log: () => {} });

    // Act
    await load(sf);
    clock.advance(500);
    await load(sf); // within the ttl: no S3 call at all
    clock.advance(1000);
    await load(sf); // ttl passed, same ETag: head only
    source.put('sf/radio_code.json', codes('Warned'));
    clock.advance(1000);
    const updated = await load(sf);

    // Assert
    expect(source.reads).toEqual(['sf/radio_code.json', 'sf/radio_code.json']);
    expect(enrichSummary(sf, summary, updated).dispositions).toContainEqual({
      disposition: 'ADM',
      count: 3,
      description: 'Warned',
    });
  });

  it('serves summaries without descriptions, and says why in the log, when the table is missing or broken', async () => {
    // Arrange
    if (!sf) throw new Error('sf is not registered');
    const logs: string[] = [];
    const log = (_message: string, details: Record<string, unknown>) => logs.push(String(details.error));
    const missing = createReferenceLoader({
      source: new InMemoryObjectSource(),
      bucket: 'b',
      ttlMs: 1000,
      now: () => 0,
      log,
    });
    const brokenSource = new InMemoryObjectSource();
    brokenSource.put('sf/radio_code.json', new TextEncoder().encode('{ not json'));
    const broken = createReferenceLoader({
      source: brokenSource,
      bucket: 'b',
      ttlMs: 1000,
      now: () => 0,
      log,
    });

    // Act
    const none = await missing(sf);
    const bad = await broken(sf);

    // Assert
    expect(none).toBeUndefined();
    expect(bad).toBeUndefined();
    expect(enrichSummary(sf, summary, none)).toEqual(summary);
    expect(logs).toEqual([expect.stringMatching(/NoSuchKey/), expect.stringMatching(/not valid JSON/)]);
  });

  it('does nothing for an analysis without reference data', async () => {
    if (!dt) throw new Error('dt is not registered');
    const load = createReferenceLoader({
      source: new InMemoryObjectSource(),
      bucket: 'b',
      ttlMs: 1000,
      now: () => 0,
      log: () => {},
    });
    expect(await load(dt)).toBeUndefined();
  });
});
