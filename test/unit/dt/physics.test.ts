import { describe, expect, it } from 'vitest';
import { createDtTruth } from '../../../shared/analyses/dt/generator.ts';
import { dtAnalysis } from '../../../shared/analyses/dt/index.ts';
import { generatedRows, histogramOf, packRecords, splitBySizes } from './fixtures.ts';

/** Half a 42 mm cell at 53.8 µm/ns: the longest drift, ≈ 390.3 ns. */
const MAX_DRIFT_NS = 21 / 0.0538;

interface Spectrum {
  edges: number[];
  counts: number[];
}

function sumChambers(perChamber: readonly Spectrum[]): Spectrum {
  const first = perChamber[0];
  if (first === undefined) throw new Error('no chambers');
  const counts = first.counts.map((_, bin) =>
    perChamber.reduce((sum, chamber) => sum + (chamber.counts[bin] ?? 0), 0),
  );
  return { edges: first.edges, counts };
}

function centre(spectrum: Spectrum, bin: number): number {
  return ((spectrum.edges[bin] ?? 0) + (spectrum.edges[bin + 1] ?? 0)) / 2;
}

/** Mean count of the bins whose centre lies in [from, to]. */
function plateau(spectrum: Spectrum, from: number, to: number): number {
  const inside = spectrum.counts.filter(
    (_, bin) => centre(spectrum, bin) >= from && centre(spectrum, bin) <= to,
  );
  return inside.reduce((a, b) => a + b, 0) / inside.length;
}

/** Where the spectrum first rises above, and last falls below, half the plateau height (interpolated). */
function halfHeightEdges(spectrum: Spectrum, height: number): { rising: number; falling: number } {
  const half = height / 2;
  const { counts } = spectrum;
  const firstAbove = counts.findIndex((count) => count >= half);
  const lastAbove = counts.length - 1 - [...counts].reverse().findIndex((count) => count >= half);
  const interpolate = (below: number, above: number): number => {
    const belowCount = counts[below] ?? 0;
    const aboveCount = counts[above] ?? 0;
    const fraction = (half - belowCount) / (aboveCount - belowCount);
    return centre(spectrum, below) + fraction * (centre(spectrum, above) - centre(spectrum, below));
  };
  return { rising: interpolate(firstAbove - 1, firstAbove), falling: interpolate(lastAbove + 1, lastAbove) };
}

describe('dt physics on generated data', () => {
  // ~200k rows, applied in batches of 5000 one-row records, as the pipeline would.
  const truth = createDtTruth();
  const { rows, wireFormat } = generatedRows({ rows: 200_000, seed: 2024, format: 'bin', truth });
  let state = dtAnalysis.emptyState();
  for (const batchRows of splitBySizes(rows, new Array<number>(40).fill(5_000))) {
    state = dtAnalysis.applyBatch(state, packRecords(batchRows, wireFormat, 1)).state;
  }
  const summary = dtAnalysis.summarizeState(state);
  const perChamber = [0, 1, 2, 3].map((chamber) => histogramOf(summary, chamber, 'drift_time_ns'));
  const measured = sumChambers(perChamber);
  const trueDrift = sumChambers(
    [0, 1, 2, 3].map((chamber) => ({
      edges: truth.driftTimeNs.binEdges,
      counts: truth.driftTimeNs.counts.slice(chamber * 144, (chamber + 1) * 144),
    })),
  );
  const inRange = measured.counts.reduce((a, b) => a + b, 0);
  const outOfRange = perChamber.reduce((sum, chamber) => sum + chamber.underflow + chamber.overflow, 0);

  it('puts most gated hits between 0 and ~400 ns', () => {
    // Act
    const inBox = measured.counts
      .filter((_, bin) => centre(measured, bin) > -10 && centre(measured, bin) < MAX_DRIFT_NS + 10)
      .reduce((a, b) => a + b, 0);

    // Assert: the rest are noise hits and second muons in a gated orbit (mostly in over/underflow).
    const gated = [0, 1, 2, 3].flatMap((chamber) => histogramOf(summary, chamber, 'gated_occupancy').counts);
    expect(inRange + outOfRange).toBe(gated.reduce((a, b) => a + b, 0));
    expect(inBox / (inRange + outOfRange)).toBeGreaterThan(0.85);
    expect(inRange).toBeGreaterThan(20_000);
  });

  it('is a box with edges near 0 ns and near 21 mm / 53.8 µm/ns', () => {
    // Act
    const height = plateau(measured, 50, 340);
    const { rising, falling } = halfHeightEdges(measured, height);

    // Assert
    expect(rising).toBeGreaterThan(-6);
    expect(rising).toBeLessThan(6);
    expect(falling).toBeGreaterThan(MAX_DRIFT_NS - 8);
    expect(falling).toBeLessThan(MAX_DRIFT_NS + 8);
  });

  it('is flat between the edges', () => {
    // Arrange
    const height = plateau(measured, 50, 340);

    // Act
    const plateauBins = measured.counts.filter(
      (_, bin) => centre(measured, bin) >= 20 && centre(measured, bin) <= 370,
    );

    // Assert: every bin within 6 standard deviations (Poisson) of the mean, none empty.
    for (const count of plateauBins) expect(Math.abs(count - height)).toBeLessThan(6 * Math.sqrt(height));
    const firstHalf = plateau(measured, 20, 195);
    const secondHalf = plateau(measured, 195, 370);
    expect(Math.abs(firstHalf - secondHalf) / height).toBeLessThan(0.05);
  });

  it('matches the generator truth: same edges, same number of hits in the box', () => {
    // Act
    const trueHeight = plateau(trueDrift, 50, 340);
    const trueEdges = halfHeightEdges(trueDrift, trueHeight);
    const measuredEdges = halfHeightEdges(measured, plateau(measured, 50, 340));
    const trueInBox = trueDrift.counts.reduce((a, b) => a + b, 0);
    const measuredInBox = measured.counts
      .filter((_, bin) => centre(measured, bin) > -20 && centre(measured, bin) < MAX_DRIFT_NS + 20)
      .reduce((a, b) => a + b, 0);

    // Assert: edges within a few ns (smearing and TDC steps), counts within 5 % (hits whose orbit
    // differs from their scintillator's, and background, make the difference).
    expect(trueEdges.rising).toBeGreaterThan(-3);
    expect(trueEdges.rising).toBeLessThan(3);
    expect(trueEdges.falling).toBeGreaterThan(MAX_DRIFT_NS - 5);
    expect(trueEdges.falling).toBeLessThan(MAX_DRIFT_NS + 5);
    expect(Math.abs(measuredEdges.rising - trueEdges.rising)).toBeLessThan(5);
    expect(Math.abs(measuredEdges.falling - trueEdges.falling)).toBeLessThan(5);
    expect(Math.abs(measuredInBox - trueInBox) / trueInBox).toBeLessThan(0.05);
  });

  it('sees every chamber, with gated occupancy only where tracks cross the scintillators', () => {
    // Assert
    for (const chamber of [0, 1, 2, 3]) {
      const occupancy = histogramOf(summary, chamber, 'occupancy').counts;
      const gated = histogramOf(summary, chamber, 'gated_occupancy').counts;
      expect(occupancy.every((count) => count > 0)).toBe(true);
      for (const [channel, count] of gated.entries()) {
        expect(count).toBeLessThanOrEqual(occupancy[channel] ?? 0);
      }
      const multiplicity = histogramOf(summary, chamber, 'multiplicity').counts;
      // Muons cross 4 layers: 4 active channels is the most common multi-channel orbit.
      const multiChannel = multiplicity.slice(1);
      expect(multiChannel.indexOf(Math.max(...multiChannel)) + 2).toBe(4);
    }
  });
});
