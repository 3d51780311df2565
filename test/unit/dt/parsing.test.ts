import { describe, expect, it } from 'vitest';
import { dtAnalysis, REJECTION_REASONS } from '../../../shared/analyses/dt/index.ts';
import {
  NOT_A_DAQ_LINE,
  PARSE_OK,
  parseDaqLine,
  parseTextRow,
} from '../../../shared/analyses/dt/row-parser.ts';
import { bytes, histogramOf, record, testRandom, textRecords } from './fixtures.ts';

function apply(lines: readonly string[]) {
  return dtAnalysis.applyBatch(dtAnalysis.emptyState(), textRecords(lines));
}

/** The cumulative summary after one batch from an empty state: every orbit counted, open or not. */
function summary(lines: readonly string[]) {
  return dtAnalysis.summarizeState(apply(lines).state);
}

/** Per chamber occupancy counts of one chamber from a batch. */
function occupancyOf(lines: readonly string[], chamber: number): number[] {
  const { batch } = apply(lines);
  return Array.from(batch.occupancy.subarray(chamber * 64, chamber * 64 + 64));
}

describe('dt row parsing', () => {
  it.each([
    ['integer TDC_MEAS', '2,0,5,3387200947,100,26'],
    ['%f TDC_MEAS', '2,0,5,3387200947,100,26.000000'],
    ['fractional TDC_MEAS', '2,0,5,3387200947,100,26.5'],
    ['TDC_MEAS 0', '2,0,5,3387200947,100,0.000000'],
    ['largest TDC_MEAS below 30', '2,0,5,3387200947,100,29.999999'],
  ])('accepts a hit with %s', (_, line) => {
    // Act
    const step = apply([line]);

    // Assert
    expect(step.rejections).toEqual([]);
    expect(Array.from(step.batch.chamberHits)).toEqual([1, 0, 0, 0]);
    expect(step.batch.occupancy[5]).toBe(1);
  });

  it('maps FPGA and TDC_CHANNEL to chambers and chamber-local channels', () => {
    // Arrange
    const lines = [
      '2,0,0,1,0,0',
      '2,0,63,1,0,0',
      '2,0,64,1,0,0',
      '2,0,127,1,0,0',
      '2,1,3,1,0,0',
      '2,1,70,1,0,0',
    ];

    // Act
    const step = apply(lines);

    // Assert
    expect(Array.from(step.batch.chamberHits)).toEqual([2, 2, 1, 1]);
    expect(occupancyOf(lines, 0)[0]).toBe(1);
    expect(occupancyOf(lines, 0)[63]).toBe(1);
    expect(occupancyOf(lines, 1)[0]).toBe(1);
    expect(occupancyOf(lines, 1)[63]).toBe(1);
    expect(occupancyOf(lines, 2)[3]).toBe(1);
    expect(occupancyOf(lines, 3)[6]).toBe(1);
  });

  it('filters ancillary words (HEAD ≠ 2) without rejecting them, even with values outside hit ranges', () => {
    // Arrange: lines from the real sample: BX above 3563, negative and fractional TDC_MEAS.
    const lines = [
      '3,0,0,3387339394,4353,0',
      '4,0,0,3387339329,0,-0.537109',
      '5,0,0,3387339329,0,-41.531250',
    ];

    // Act
    const step = apply(lines);

    // Assert
    expect(step.rejections).toEqual([]);
    expect(step.batch.rowsFiltered).toBe(3);
    expect(step.batch.rowsRead).toBe(3);
    expect(summary(lines).hit_count).toBe(0);
  });

  it('counts the scintillator and auxiliary channels apart from chamber hits', () => {
    // Act
    const result = summary([
      '2,1,128,7,0,0',
      '2,1,138,7,0,1',
      '2,1,139,7,0,1',
      '2,0,128,7,0,1',
      '2,0,5,7,0,1',
    ]);

    // Assert
    expect(result.scintillator_hits).toBe(1);
    expect(result.auxiliary_hits).toBe(3);
    expect(result.hit_count).toBe(1);
  });

  it('keeps ORBIT_CNT above 2^31 exact: hits one orbit apart are different orbits', () => {
    // Arrange: 2^31 − 1, 2^31, 2^32 − 1 and their neighbours, two channels each.
    const orbits = [2147483647, 2147483648, 2147483649, 4294967294, 4294967295];
    const lines = orbits.flatMap((orbit) => [`2,0,1,${orbit},10,0`, `2,0,2,${orbit},10,0`]);

    // Act
    const result = summary(lines);

    // Assert: five orbits with two active channels each.
    expect(result.orbits_with_hits).toBe(5);
    expect(histogramOf(result, 0, 'multiplicity').counts.slice(0, 3)).toEqual([0, 5, 0]);
  });

  it('computes drift times from counters within the orbit, exactly, above 2^31', () => {
    // Arrange: scintillator at BX 100 TDC 0; chamber 2 hit 10 BX + 3 TDC later: 252.5 ns + 95.5 ns = 348 ns.
    const orbit = 4294967295;
    const lines = [`2,1,128,${orbit},100,0`, `2,1,5,${orbit},110,3`];

    // Act
    const result = summary(lines);

    // Assert
    const drift = histogramOf(result, 2, 'drift_time_ns');
    const bin = drift.counts.indexOf(1);
    expect(drift.counts.reduce((a, b) => a + b, 0)).toBe(1);
    expect(drift.edges[bin]).toBeLessThanOrEqual(348);
    expect(drift.edges[bin + 1]).toBeGreaterThan(348);
  });
});

describe('dt text number parsing', () => {
  it('reads TDC_MEAS written with %f exactly as Number() does, and integers exactly above 2^31', () => {
    // Arrange
    const random = testRandom(99);
    const values = new Float64Array(6);
    for (let trial = 0; trial < 5_000; trial++) {
      const tdc = ((random() - 0.5) * 200).toFixed(1 + Math.floor(random() * 8));
      const orbit = Math.floor(random() * 2 ** 32);
      const line = bytes(`5,1,0,${orbit},${Math.floor(random() * 20_000)},${tdc}`);

      // Act
      const code = parseTextRow(line, 0, line.length, values);

      // Assert
      expect(code).toBe(PARSE_OK);
      expect(values[3]).toBe(orbit);
      expect(values[5]).toBe(Number(tdc));
    }
  });

  it('accepts explicit signs through the general grammar', () => {
    // Arrange
    const values = new Float64Array(6);
    const line = bytes('+2,+0,+5,+7,+1,+.5');

    // Act + Assert
    expect(parseTextRow(line, 0, line.length, values)).toBe(PARSE_OK);
    expect(Array.from(values)).toEqual([2, 0, 5, 7, 1, 0.5]);
  });
});

describe('dt rows parsed and framed in one scan (parseDaqLine)', () => {
  it.each([
    ['a row alone', '2,0,5,3387200947,100,26.5', 25],
    ['a row before LF', '2,0,5,3387200947,100,26.5\n2,0,5,1,1,1', 25],
    ['a row before CRLF', '2,0,5,3387200947,100,-0.5\r\nx', 26],
    ['a row ending in CR, last in its record', '2,0,5,3387200947,100,7\r', 23],
  ])('finds the line end of %s and reads what parseTextRow reads', (_, text, lineEnd) => {
    // Arrange
    const line = bytes(text);
    const fused = new Float64Array(6);
    const general = new Float64Array(6);
    const rowEnd = text.search(/\r?\n|\r$/) >= 0 ? text.search(/\r?\n|\r$/) : text.length;

    // Act
    const end = parseDaqLine(line, 0, line.length, fused);

    // Assert
    expect(end).toBe(lineEnd);
    expect(parseTextRow(line, 0, rowEnd, general)).toBe(PARSE_OK);
    expect(Array.from(fused)).toEqual(Array.from(general));
  });

  it.each([
    ['an empty line', '\n2,0,5,1,1,1'],
    ['a CR inside the line', '2,0,5,3387200947,100,7\rx'],
    ['a sign', '+2,0,5,3387200947,100,7'],
    ['too few fields', '2,0,5,3387200947,100'],
    ['junk after the last field', '2,0,5,3387200947,100,7x'],
    ['no digits in the last field', '2,0,5,3387200947,100,'],
  ])('leaves %s to the general path', (_, text) => {
    // Arrange
    const line = bytes(text);

    // Act + Assert
    expect(parseDaqLine(line, 0, line.length, new Float64Array(6))).toBe(NOT_A_DAQ_LINE);
  });
});

describe('dt rejections', () => {
  it.each([
    ['too few fields', '2,0,5,3387200947,100', REJECTION_REASONS.fieldCount],
    ['too many fields', '2,0,5,3387200947,100,3,9', REJECTION_REASONS.fieldCount],
    ['trailing comma', '2,0,5,3387200947,100,3,', REJECTION_REASONS.fieldCount],
    ['the header line', 'HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS', REJECTION_REASONS.notANumber],
    ['a word in a field', '2,0,abc,3387200947,100,3', REJECTION_REASONS.notANumber],
    ['an empty field', '2,0,,3387200947,100,3', REJECTION_REASONS.notANumber],
    ['a space', '2,0, 5,3387200947,100,3', REJECTION_REASONS.notANumber],
    ['exponent notation', '2,0,5,3387200947,100,1e1', REJECTION_REASONS.notANumber],
    ['two decimal points', '2,0,5,3387200947,100,1.2.3', REJECTION_REASONS.notANumber],
    ['a fractional BX', '2,0,5,3387200947,100.5,3', REJECTION_REASONS.notAnInteger],
    ['FPGA 2', '2,2,5,3387200947,100,3', REJECTION_REASONS.outOfRange],
    ['TDC_CHANNEL 512', '2,0,512,3387200947,100,3', REJECTION_REASONS.outOfRange],
    ['negative TDC_CHANNEL', '2,0,-1,3387200947,100,3', REJECTION_REASONS.outOfRange],
    ['ORBIT_CNT 2^32', '2,0,5,4294967296,100,3', REJECTION_REASONS.outOfRange],
    ['BX 3564', '2,0,5,3387200947,3564,3', REJECTION_REASONS.outOfRange],
    ['TDC_MEAS 30', '2,0,5,3387200947,100,30', REJECTION_REASONS.outOfRange],
    ['negative TDC_MEAS on a hit', '2,0,5,3387200947,100,-0.5', REJECTION_REASONS.outOfRange],
    ['HEAD 8', '8,0,5,3387200947,100,3', REJECTION_REASONS.outOfRange],
  ])('rejects %s with a reason, and counts it', (_, line, reason) => {
    // Act
    const step = apply(['2,0,1,1,1,1', line]);

    // Assert
    expect(step.rejections).toHaveLength(1);
    expect(step.rejections[0]).toMatchObject({ reason, row: line, partition: 0, offset: '1', rowIndex: 0 });
    expect(step.rejections[0]?.detail.length).toBeGreaterThan(10);
    expect(step.batch.rejectedByReason).toEqual({ [reason]: 1 });
    expect(step.inputRows).toBe(2);
    expect(step.batch.chamberHits[0]).toBe(1);
  });

  it('explains an out-of-range value with the field, the value and the range', () => {
    // Act
    const [rejection] = apply(['2,0,5,3387200947,3564,3']).rejections;

    // Assert
    expect(rejection?.detail).toBe('BX_COUNTER of a hit (HEAD 2) is 3564, outside 0..3563');
  });

  it('truncates a long rejected row', () => {
    // Arrange
    const line = `2,0,5,${'9'.repeat(500)}`;

    // Act
    const [rejection] = apply([line]).rejections;

    // Assert
    expect(rejection?.reason).toBe(REJECTION_REASONS.fieldCount);
    expect(rejection?.row.length).toBeLessThanOrEqual(201);
    expect(rejection?.row.startsWith('2,0,5,999')).toBe(true);
  });

  it('reads packed text records: LF or CRLF separators, each rejected row with its index', () => {
    // Arrange
    const value = bytes('2,0,1,7,0,0\r\n2,0,x,7,0,0\n\n2,0,2,7,0,0\n');

    // Act
    const step = dtAnalysis.applyBatch(dtAnalysis.emptyState(), [
      record(value, 'text', { partition: 3, offset: '42' }),
    ]);

    // Assert: the empty line is not a row; indexes count lines of the record.
    expect(step.inputRows).toBe(3);
    expect(step.batch.chamberHits[0]).toBe(2);
    expect(step.rejections).toEqual([
      {
        reason: REJECTION_REASONS.notANumber,
        detail: "TDC_CHANNEL 'x' is not a decimal number",
        row: '2,0,x,7,0,0',
        partition: 3,
        offset: '42',
        rowIndex: 1,
      },
    ]);
  });

  it('rejects an empty record rather than dropping it silently', () => {
    // Act
    const step = dtAnalysis.applyBatch(dtAnalysis.emptyState(), [
      record(new Uint8Array(0), 'text'),
      record(new Uint8Array(0), 'binary'),
    ]);

    // Assert
    expect(step.rejections.map((rejection) => rejection.reason)).toEqual([
      REJECTION_REASONS.emptyRecord,
      REJECTION_REASONS.emptyRecord,
    ]);
  });

  it('rejects the tail of a binary record that is not a whole word, and reads the words before it', () => {
    // Arrange: one valid hit word (HEAD 2, FPGA 0, channel 5, orbit 3387200947, BX 100, TDC 3) + 3 bytes.
    const word = (2n << 61n) | (5n << 49n) | (3387200947n << 17n) | (100n << 5n) | 3n;
    const value = new Uint8Array(11);
    new DataView(value.buffer).setBigUint64(0, word, true);
    value.set([0xaa, 0xbb, 0xcc], 8);

    // Act
    const step = dtAnalysis.applyBatch(dtAnalysis.emptyState(), [record(value, 'binary', { offset: '9' })]);

    // Assert
    expect(step.batch.chamberHits[0]).toBe(1);
    expect(step.inputRows).toBe(2);
    expect(step.rejections).toEqual([
      expect.objectContaining({
        reason: REJECTION_REASONS.truncatedWord,
        row: 'aabbcc',
        offset: '9',
        rowIndex: 1,
      }),
    ]);
  });

  it('shows a rejected binary word as 16 hex digits', () => {
    // Arrange: a hit word with BX 4000 (fits 12 bits, outside 0..3563).
    const word = (2n << 61n) | (5n << 49n) | (7n << 17n) | (4000n << 5n);
    const value = new Uint8Array(8);
    new DataView(value.buffer).setBigUint64(0, word, true);

    // Act
    const [rejection] = dtAnalysis.applyBatch(dtAnalysis.emptyState(), [record(value, 'binary')]).rejections;

    // Assert
    expect(rejection?.reason).toBe(REJECTION_REASONS.outOfRange);
    expect(rejection?.row).toBe(word.toString(16).padStart(16, '0'));
  });
});
