import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JsonArrayFramer, MAX_ELEMENT_BYTES } from '../../../shared/analyses/sf/json-array-framer.ts';
import { ObjectFormatError } from '../../../shared/core/analysis.ts';
import { bytes, chunked, frame, frameObject, SAMPLE_PATH, sampleExists, text } from './fixtures.ts';

/** Pretty-printed like the DataSF export (4 spaces), with the awkward cases inside strings. */
const records = [
  {
    crime_id: '1',
    original_crime_type_name: 'Say "what" [again]',
    call_date_time: '2018-12-31T23:57:00.000',
  },
  { crime_id: '2', original_crime_type_name: 'back\\slash \\" {brace} ,comma', disposition: 'ÄDM – café ☕' },
  { crime_id: '3', nested: { list: [1, 2.5, -3e2, true, false, null], empty: {}, none: [] }, tab: 'a\tb\nc' },
];
const pretty = `${JSON.stringify(records, null, 4)}\n`;
const expectedRows = records.map((record) => JSON.stringify(record));

function frameText(objectText: string, chunkSize = 1 << 16): string[] {
  return frame(new JsonArrayFramer(), chunked(bytes(objectText), chunkSize)).map(text);
}

function formatError(objectText: string): string {
  try {
    frameText(objectText);
  } catch (error) {
    if (error instanceof ObjectFormatError) return error.message;
    throw error;
  }
  throw new Error('expected an ObjectFormatError');
}

describe('sf JSON array framer', () => {
  it('turns each pretty-printed element into its compact one-line JSON', () => {
    // Act
    const rows = frameText(pretty);

    // Assert
    expect(rows).toEqual(expectedRows);
    for (const row of rows) expect(row).not.toMatch(/\n/);
  });

  it('gives the same rows when the object is split in two at every byte position', () => {
    // Arrange
    const all = bytes(pretty);

    for (let cut = 0; cut <= all.length; cut++) {
      // Act
      const rows = frame(new JsonArrayFramer(), [all.subarray(0, cut), all.subarray(cut)]).map(text);

      // Assert
      expect(rows, `cut at byte ${cut}`).toEqual(expectedRows);
    }
  });

  it('gives the same rows fed one byte at a time (multi-byte UTF-8 characters split too)', () => {
    expect(frameText(pretty, 1)).toEqual(expectedRows);
  });

  it('never returns views of the pushed chunks (a reused chunk buffer cannot corrupt rows)', () => {
    // Arrange
    const framer = new JsonArrayFramer();
    const chunk = bytes('[{"a": "x"}, {"b"');

    // Act
    const first = framer.push(chunk);
    chunk.fill(0x20);
    const rest = [...framer.push(bytes(': "y"}]')), ...framer.end()];

    // Assert
    expect([...first, ...rest].map(text)).toEqual(['{"a":"x"}', '{"b":"y"}']);
  });

  it('reads an empty array, CRLF line ends, a UTF-8 BOM and top-level scalars', () => {
    expect(frameText('[]')).toEqual([]);
    expect(frameText('\r\n [ \r\n ] \r\n')).toEqual([]);
    expect(frameText('\uFEFF[\r\n  {"a": 1},\r\n  {"b": 2}\r\n]', 1)).toEqual(['{"a":1}', '{"b":2}']);
    expect(frameText('[1, -2.5e3 ,"s,]\\"", true,null , [ ]]', 1)).toEqual([
      '1',
      '-2.5e3',
      '"s,]\\""',
      'true',
      'null',
      '[]',
    ]);
  });

  it('passes a structurally whole but invalid element on, compacted, for the aggregate side to reject', () => {
    expect(frameText('[{"a": tru}, {"b": 1}]')).toEqual(['{"a":tru}', '{"b":1}']);
  });

  it.each([
    ['not an array', '{"a": 1}', /byte 0 \(line 1, column 1\): expected '\['.*found '\{'/],
    [
      'a missing comma',
      '[\n  {"a": 1}\n  {"b": 2}\n]',
      /byte 15 \(line 3, column 3\): unexpected '\{': expected ',' or ']' after element 1/,
    ],
    ['a trailing comma', '[{"a": 1},\n]', /line 2, column 1\): trailing ',' before ']'/],
    ['mismatched brackets', '[{"a": [1}]', /byte 9 .*unexpected '\}': expected '\]'/],
    ['data after the array', '[{"a": 1}] x', /byte 11 .*unexpected 'x' after the closing ']'/],
    ['a stray comma', '[,{"a": 1}]', /byte 1 .*unexpected ',': expected an array element/],
    ['two arrays', '[][]', /byte 2 .*after the closing ']'/],
    [
      'a raw line break in a string (unterminated)',
      '[{"a": "x\n"}]',
      /line 1, column 10\): line break inside a string of element 1/,
    ],
  ])('refuses %s with the position', (_name, objectText, message) => {
    expect(formatError(objectText)).toMatch(message);
  });

  it.each([
    ['an empty object', '', /holds no array: expected '\[' at byte 0/],
    ['an unclosed array', '[{"a": 1},', /truncated: not closed by '\]' at byte 10 .*after 1 element/],
    ['an unclosed element', '[{"a": 1}, {"b": [2', /truncated.*inside element 2 \(from byte 11\)/],
    ['an unterminated string', '[{"a": "x', /truncated.*inside element 1 \(from byte 1\), in a string/],
  ])('refuses %s at the end', (_name, objectText, message) => {
    expect(formatError(objectText)).toMatch(message);
  });

  it('refuses an element longer than MAX_ELEMENT_BYTES (64 KiB) instead of buffering on', () => {
    const huge = `[{"a": "${'x'.repeat(MAX_ELEMENT_BYTES)}"}]`;
    expect(MAX_ELEMENT_BYTES).toBe(65_536);
    expect(formatError(huge)).toMatch(/element 1 \(from byte 1\) is longer than 65536 bytes/);
  });

  it('takes an element of exactly MAX_ELEMENT_BYTES, compacted (whitespace outside strings is not counted)', () => {
    // Arrange: {"a":"xx…"} of exactly the limit, pretty-printed with spaces around its tokens.
    const value = 'x'.repeat(MAX_ELEMENT_BYTES - '{"a":""}'.length);

    // Act
    const rows = frameText(`[ { "a" :   "${value}" } ]`);

    // Assert
    expect(rows.map((row) => row.length)).toEqual([MAX_ELEMENT_BYTES]);
  });

  it('refuses a 50 MB element inside its first 1 MB chunk, naming the limit', () => {
    // Arrange: an element whose string never ends, streamed in 1 MB chunks.
    const framer = new JsonArrayFramer();
    framer.push(bytes('[{"a": "'));
    const chunk = new Uint8Array(1 << 20).fill(0x78);
    let chunksRead = 0;
    let message = '';

    // Act
    try {
      for (; chunksRead < 50; chunksRead++) framer.push(chunk);
    } catch (error) {
      if (!(error instanceof ObjectFormatError)) throw error;
      message = error.message;
    }

    // Assert
    expect(chunksRead).toBe(0);
    expect(message).toMatch(/element 1 \(from byte 1\) is longer than 65536 bytes/);
  });

  it('is what replay picks for .json and .json.gz keys', () => {
    expect(frameObject('sf/calls.json', [bytes(pretty)])).toEqual(expectedRows);
    expect(frameObject('sf/calls.JSON.gz', [bytes(pretty)])).toEqual(expectedRows);
  });
});

describe.skipIf(!sampleExists)(
  `sf JSON array framer on the 2,000-record sample (skipped when absent: ${SAMPLE_PATH})`,
  () => {
    const sample = sampleExists ? readFileSync(SAMPLE_PATH) : Buffer.alloc(0);

    it('frames every record as JSON.stringify(JSON.parse(...)) of it, whatever the chunk size', () => {
      // Arrange
      const parsed: unknown = JSON.parse(sample.toString('utf8'));
      if (!Array.isArray(parsed)) throw new Error('the sample is not an array');
      const expected = parsed.map((record) => JSON.stringify(record));

      for (const chunkSize of [1 << 16, 4093, 7]) {
        // Act
        const rows = frameObject('sf/sample.json', chunked(sample, chunkSize));

        // Assert
        expect(rows).toHaveLength(2000);
        expect(rows, `chunks of ${chunkSize}`).toEqual(expected);
      }
    });
  },
);
