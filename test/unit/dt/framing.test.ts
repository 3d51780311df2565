import { describe, expect, it } from 'vitest';
import { dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import { ObjectFormatError } from '../../../shared/core/analysis.ts';
import { bytes, concat, frameObject, text } from './fixtures.ts';

const HEADER = 'HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS';
const ROWS = ['1,1,0,3387315431,0,130', '4,1,0,3387315431,0,-0.573730', '2,0,75,3387200947,2922,2'];

function frameText(objectText: string, objectKey = 'dt/run/data.csv'): string[] {
  return frameObject(objectKey, [bytes(objectText)]).rows.map(text);
}

/** Every way of cutting `object` into two chunks, plus one byte at a time. */
function everySplit(object: Uint8Array): Uint8Array[][] {
  const splits: Uint8Array[][] = [];
  for (let cut = 0; cut <= object.length; cut++) splits.push([object.subarray(0, cut), object.subarray(cut)]);
  splits.push(Array.from(object, (_, index) => object.subarray(index, index + 1)));
  return splits;
}

describe('dt text framing', () => {
  it.each([
    ['header, LF, final newline', `${HEADER}\n${ROWS.join('\n')}\n`],
    ['header, LF, no final newline', `${HEADER}\n${ROWS.join('\n')}`],
    ['header, CRLF, final newline', `${HEADER}\r\n${ROWS.join('\r\n')}\r\n`],
    ['header, CRLF, no final newline', `${HEADER}\r\n${ROWS.join('\r\n')}`],
    ['no header, LF', `${ROWS.join('\n')}\n`],
    ['no header, CRLF, no final newline', ROWS.join('\r\n')],
    ['empty lines anywhere', `\n${HEADER}\n\n${ROWS[0]}\n\r\n${ROWS[1]}\n\n${ROWS[2]}\n\n`],
    ['UTF-8 byte order mark before the header', `\uFEFF${HEADER}\n${ROWS.join('\n')}`],
  ])('yields the rows without terminators: %s', (_, objectText) => {
    // Act
    const rows = frameText(objectText);

    // Assert
    expect(rows).toEqual(ROWS);
  });

  it('treats only the first line as a possible header', () => {
    // Arrange
    const objectText = `${ROWS[0]}\n${HEADER}\n${ROWS[1]}`;

    // Act
    const rows = frameText(objectText);

    // Assert: a header in the middle is passed on as a row (the aggregate side rejects it).
    expect(rows).toEqual([ROWS[0], HEADER, ROWS[1]]);
  });

  it.each([
    ['LF', `${HEADER}\n${ROWS.join('\n')}\n`],
    ['CRLF without final newline', `${HEADER}\r\n${ROWS.join('\r\n')}`],
    ['CRLF with final newline', `${HEADER}\r\n${ROWS.join('\r\n')}\r\n`],
  ])('gives the same rows for chunks split at every byte position (%s)', (_, objectText) => {
    // Arrange
    const object = bytes(objectText);

    for (const chunks of everySplit(object)) {
      // Act
      const rows = frameObject('dt/data.txt', chunks).rows.map(text);

      // Assert
      expect(rows).toEqual(ROWS);
    }
  });

  it('returns rows inside a chunk as views into it, and copies rows that straddle chunks', () => {
    // Arrange
    const { framer } = dtAnalysis.replay.framerFor('dt/data.csv');
    const first = bytes('2,0,1,5,6,7\n2,0,');

    // Act
    const early = framer.push(first);
    first.fill(0x78); // the caller reuses its buffer for the next read
    const late = [...framer.push(bytes('2,5,6,7\n')), ...framer.end()];

    // Assert
    expect(early.map(text)).toEqual(['2,0,1,5,6,7'.replace(/./g, 'x')]); // views: caller's memory
    expect(late.map(text)).toEqual(['2,0,2,5,6,7']);
  });

  it('picks the format by extension, ignoring .gz and letter case', () => {
    // Act + Assert
    expect(dtAnalysis.replay.framerFor('dt/a/data_000000.txt').wireFormat).toBe('text');
    expect(dtAnalysis.replay.framerFor('dt/a/data_000000.CSV.gz').wireFormat).toBe('text');
    expect(dtAnalysis.replay.framerFor('dt/a/data_000000.bin').wireFormat).toBe('binary');
    expect(dtAnalysis.replay.framerFor('dt/a/data_000000.bin.gz').wireFormat).toBe('binary');
  });

  it.each(['dt/data.json', 'dt/data', 'dt/data.gz', 'dt/data.csv.zip'])(
    'refuses an unknown extension with the supported ones named (%s)',
    (objectKey) => {
      // Act + Assert
      expect(() => dtAnalysis.replay.framerFor(objectKey)).toThrow(ObjectFormatError);
      expect(() => dtAnalysis.replay.framerFor(objectKey)).toThrow(/\.csv, \.txt, \.bin/);
    },
  );

  it('refuses a "line" longer than any DT row could be', () => {
    // Arrange
    const { framer } = dtAnalysis.replay.framerFor('dt/data.csv');
    const noNewline = new Uint8Array(40_000).fill(0x31);

    // Act + Assert
    framer.push(noNewline);
    expect(() => framer.push(noNewline)).toThrow(ObjectFormatError);
  });
});

describe('dt binary framing', () => {
  const words = Uint8Array.from({ length: 24 }, (_, index) => index + 1);

  it('cuts 8-byte words, whatever the chunking', () => {
    for (const chunks of everySplit(words)) {
      // Act
      const { rows, wireFormat } = frameObject('dt/data.bin', chunks);

      // Assert
      expect(wireFormat).toBe('binary');
      expect(rows.map((row) => Array.from(row))).toEqual([
        Array.from(words.subarray(0, 8)),
        Array.from(words.subarray(8, 16)),
        Array.from(words.subarray(16, 24)),
      ]);
    }
  });

  it('reports a trailing partial word at end()', () => {
    // Arrange
    const { framer } = dtAnalysis.replay.framerFor('dt/data.bin');
    framer.push(concat([words, Uint8Array.of(1, 2, 3)]));

    // Act + Assert
    expect(() => framer.end()).toThrow(ObjectFormatError);
    expect(() => dtAnalysis.replay.framerFor('dt/data.bin').framer.end()).not.toThrow();
  });

  it('names the truncated word in the error', () => {
    // Arrange
    const { framer } = dtAnalysis.replay.framerFor('dt/data.bin');
    framer.push(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));

    // Act + Assert
    expect(() => framer.end()).toThrow(/10 bytes, not a multiple of 8: the last 2 byte\(s\)/);
  });
});

describe('dt partition key and packing', () => {
  it('keys a text row by its ORBIT_CNT, above 2^31 included', () => {
    // Act + Assert
    expect(dtAnalysis.replay.partitionKey(bytes('2,0,75,3387200947,2922,2'), 'text')).toBe('3387200947');
    expect(dtAnalysis.replay.partitionKey(bytes('4,1,0,0000042,0,-0.5'), 'text')).toBe('42');
  });

  it.each(['2,0,75', '2,0,75,,1,2', '2,0,75,-5,1,2', '2,0,75,12x,1,2', ''])(
    'gives no key when ORBIT_CNT is unreadable (%j)',
    (row) => {
      // Act + Assert
      expect(dtAnalysis.replay.partitionKey(bytes(row), 'text')).toBeUndefined();
    },
  );

  it('keys a binary word by bits 17–48', () => {
    // Arrange: ORBIT = 3387200947 (> 2^31) in bits 17–48, everything else set to ones.
    const orbit = 3387200947n;
    const word = (0x7n << 61n) | (0x7n << 58n) | (0x1ffn << 49n) | (orbit << 17n) | (0xfffn << 5n) | 0x1fn;
    const row = new Uint8Array(8);
    new DataView(row.buffer).setBigUint64(0, word, true);

    // Act + Assert
    expect(dtAnalysis.replay.partitionKey(row, 'binary')).toBe('3387200947');
    expect(dtAnalysis.replay.partitionKey(row.subarray(0, 7), 'binary')).toBeUndefined();
  });

  it('packs text rows with LF and binary rows back to back; one row packs to itself', () => {
    // Arrange
    const rows = ROWS.map(bytes);

    // Act + Assert
    expect(text(dtAnalysis.replay.pack(rows, 'text'))).toBe(ROWS.join('\n'));
    expect(Array.from(dtAnalysis.replay.pack([Uint8Array.of(1, 2), Uint8Array.of(3)], 'binary'))).toEqual([
      1, 2, 3,
    ]);
    for (const row of rows) expect(dtAnalysis.replay.pack([row], 'text')).toEqual(row);
    expect(dtAnalysis.replay.pack([], 'text')).toEqual(new Uint8Array(0));
  });
});
