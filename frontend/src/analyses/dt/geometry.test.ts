import { describe, expect, it } from 'vitest';
import { CHAMBER_CENTRE_Z_MM, cellOf, chamberAxis, chamberCells, chamberExtent } from './geometry.ts';

// The numbers below are dt.md's, written out, not taken from the code under test.
const LAYER_OFFSET_MM = [19.5, -6.5, 6.5, -19.5];

describe('telescope geometry', () => {
  it('places the chambers at their real heights', () => {
    expect(CHAMBER_CENTRE_Z_MM).toEqual([219.8, 977.3, 1035.6, 1819.8]);
    expect(chamberExtent(3)).toMatchObject({ bottom: 1819.8 - 26, top: 1819.8 + 26 });
  });

  it('maps the 64 channels of a chamber to 16 wires × 4 layers, each cell used once', () => {
    for (const chamber of [0, 1, 2, 3]) {
      const cells = chamberCells(chamber);
      expect(cells).toHaveLength(64);
      expect(new Set(cells.map((cell) => `${cell.wire}/${cell.layer}`)).size).toBe(64);
      for (const cell of cells) {
        expect(cell.wire).toBe(Math.floor(cell.channel / 4));
        expect(cell.layer).toBe(cell.channel % 4);
        expect(cell.zMm).toBeCloseTo(
          (CHAMBER_CENTRE_Z_MM[chamber] ?? 0) + (LAYER_OFFSET_MM[cell.channel % 4] ?? 0),
        );
      }
    }
  });

  it('puts wires at 42·(c div 4) + 21 mm, staggered by half a cell (+21 mm) in layers c mod 4 = 2, 3', () => {
    expect(cellOf(0, 0).wireMm).toBe(21);
    expect(cellOf(0, 1).wireMm).toBe(21);
    expect(cellOf(0, 2).wireMm).toBe(42);
    expect(cellOf(0, 3).wireMm).toBe(42);
    expect(cellOf(0, 4).wireMm).toBe(63);
    expect(cellOf(0, 63).wireMm).toBe(42 * 15 + 42);
    // Cells are 42 × 13 mm around the wire; the 4 layers stack without gaps, top to bottom 0, 2, 1, 3.
    const cell = cellOf(2, 38);
    expect(cell.right - cell.left).toBe(42);
    expect(cell.top - cell.bottom).toBeCloseTo(13);
    expect(cell.left).toBe(42 * 9 + 42 - 21);
    const byHeight = [0, 1, 2, 3].map((channel) => cellOf(0, channel)).sort((a, b) => b.zMm - a.zMm);
    expect(byHeight.map((c) => c.channel)).toEqual([0, 2, 1, 3]);
    for (let index = 1; index < 4; index++) {
      expect(byHeight[index - 1]?.bottom).toBeCloseTo(byHeight[index]?.top ?? Number.NaN);
    }
  });

  it('draws chamber 1, rotated 90°, in the orthogonal view (y), the others in x', () => {
    expect([0, 1, 2, 3].map(chamberAxis)).toEqual(['x', 'y', 'x', 'x']);
    expect(chamberCells(1).every((cell) => cell.axis === 'y')).toBe(true);
    expect(chamberCells(0).every((cell) => cell.axis === 'x')).toBe(true);
  });

  it('reads each cell from the FPGA and TDC channel dt.md maps to its chamber', () => {
    expect(cellOf(0, 5)).toMatchObject({ fpga: 0, tdcChannel: 5 });
    expect(cellOf(1, 5)).toMatchObject({ fpga: 0, tdcChannel: 69 });
    expect(cellOf(2, 5)).toMatchObject({ fpga: 1, tdcChannel: 5 });
    expect(cellOf(3, 63)).toMatchObject({ fpga: 1, tdcChannel: 127 });
  });
});
