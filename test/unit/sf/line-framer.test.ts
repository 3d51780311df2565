import { describe, expect, it } from 'vitest';
import { MAX_ROW_BYTES } from '../../../shared/analyses/sf/limits.ts';
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

  it('takes a line of exactly MAX_ROW_BYTES (64 KiB) and refuses one byte more, naming the limit', () => {
    const line = new Uint8Array(MAX_ROW_BYTES).fill(0x61);
    expect(MAX_ROW_BYTES).toBe(65_536);
    expect(frame(new JsonLinesFramer(), [line]).map((row) => row.length)).toEqual([MAX_ROW_BYTES]);
    expect(() => new JsonLinesFramer().push(new Uint8Array(MAX_ROW_BYTES + 1).fill(0x61))).toThrow(
      /line longer than 65536 bytes \(line 1\)/,
    );
  });

  it('refuses a 50 MB line without a newline inside its first 1 MB chunk, after the rows before it', () => {
    // Arrange
    const framer = new JsonLinesFramer();
    const before = framer.push(bytes(`${rows[0]}\n${rows[1]}\n`));
    const chunk = new Uint8Array(1 << 20).fill(0x61);
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
    expect(before.map(text)).toEqual(rows.slice(0, 2));
    expect(chunksRead).toBe(0);
    expect(message).toMatch(/line longer than 65536 bytes \(line 3\)/);
  });
});
