/**
 * The origin header contract (shared/core/record-headers.ts): replay writes one header,
 * `driftline-origin: <analysis>;<sequence>;<format>;<run>`; aggregate reads it, or the four
 * separate headers another producer (or an earlier replay) may have written.
 */
import { describe, expect, it } from 'vitest';
import { originHeaders, readOrigin } from '../../../shared/core/record-headers.ts';

const FALLBACK: { readonly analysis: string | undefined; readonly topic: string } = {
  analysis: undefined,
  topic: 'data_raw',
};
const read = (headers: Record<string, string>, fallback = FALLBACK) =>
  readOrigin(new Map(Object.entries(headers)), fallback);

describe('the origin header', () => {
  it('is one header, analysis;sequence;format;run, the run as it is (spaces, ";" and all)', () => {
    const origin = {
      analysis: 'dt',
      run: 'dt/my file;v=2.csv@0123abcd4567',
      sequence: 7,
      wireFormat: 'text',
    } as const;
    expect(originHeaders(origin)).toEqual({
      'driftline-origin': 'dt;7;text;dt/my file;v=2.csv@0123abcd4567',
    });
    expect(read(originHeaders(origin))).toEqual(origin);
  });

  it('is read from the four separate headers too', () => {
    expect(
      read({
        'driftline-analysis': 'sf',
        'driftline-run': 'r1',
        'driftline-seq': '12',
        'driftline-format': 'binary',
      }),
    ).toEqual({ analysis: 'sf', run: 'r1', sequence: 12, wireFormat: 'binary' });
  });

  it('places a record without origin headers in its topic run of the default analysis, without a sequence', () => {
    expect(read({}, { analysis: 'dt', topic: 'data_raw' })).toEqual({
      analysis: 'dt',
      run: 'topic:data_raw',
      sequence: undefined,
      wireFormat: 'text',
    });
    expect(read({})).toEqual({ error: expect.stringContaining('no default analysis') });
  });

  it.each([
    ['dt;1;text', /expected analysis;sequence;format;run/],
    [';1;text;run', /expected analysis;sequence;format;run/],
    ['dt;1;text;', /expected analysis;sequence;format;run/],
    ['dt;x;text;run', /bad sequence "x"/],
    ['dt;0x10;text;run', /bad sequence "0x10"/],
    ['dt;-1;text;run', /bad sequence "-1"/],
    ['dt; 7;text;run', /bad sequence " 7"/],
    ['dt;99999999999999999;text;run', /bad sequence/],
    ['dt;1;csv;run', /bad format "csv"/],
  ])('refuses %j with a reason', (value, reason) => {
    expect(read({ 'driftline-origin': value })).toEqual({ error: expect.stringMatching(reason) });
  });

  it('quotes at most 200 characters of a bad header', () => {
    const result = read({ 'driftline-origin': 'x'.repeat(100_000) });
    expect('error' in result && result.error.length).toBeLessThan(300);
  });
});
