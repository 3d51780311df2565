import { describe, expect, it } from 'vitest';
import { JsonLinesFramer } from '../../../shared/analyses/sf/line-framer.ts';
import { ObjectFormatError } from '../../../shared/core/analysis.ts';
import { bytes, call, frame, frameObject, text } from './fixtures.ts';

describe('sf JSON-lines framer (.ndjson, .jsonl)', () => {
  const rows = [call({ time: '00:01' }), call({ time: '00:02', type: 'Say "hi" [x]' }), '{"not": "a call"}'];

  it('cuts one row per line: LF or CRLF, blank lines skipped, last line with or without newline, BOM dropped', () => {
    // Arrange
    const objects = [
      `${rows.join('\n')}\n`,
      rows.join('\r\n'),
      `\uFEFF${rows[0]}\n\n  \r\n${rows[1]}\r\n${rows[2]}`,
    ];

    for (const objectText of objects) {
      // Act
      const framed = frameObject('sf/calls.ndjson', [bytes(objectText)]);

      // Assert
      expect(framed).toEqual(rows);
    }
  });

  it('gives the same rows when split at every byte position', () => {
    // Arrange
    const all = bytes(`${rows.join('\r\n')}\r\n`);

    for (let cut = 0; cut <= all.length; cut++) {
      // Act
      const framed = frame(new JsonLinesFramer(), [all.subarray(0, cut), all.subarray(cut)]).map(text);

      // Assert
      expect(framed, `cut at ${cut}`).toEqual(rows);
    }
  });

  it('is what replay picks for .jsonl keys too', () => {
    expect(frameObject('sf/a/b.jsonl.gz', [bytes(rows.join('\n'))])).toEqual(rows);
  });

  it('refuses a line longer than 1 MiB', () => {
    const framer = new JsonLinesFramer();
    expect(() => framer.push(new Uint8Array(1024 * 1024 + 1).fill(0x61))).toThrow(ObjectFormatError);
  });
});
