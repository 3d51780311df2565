/**
 * Colour-blind-safe colours: the Okabe–Ito qualitative palette for series, viridis for the
 * sequential occupancy scale.
 */
export const OKABE_ITO = {
  black: '#000000',
  orange: '#E69F00',
  skyBlue: '#56B4E9',
  bluishGreen: '#009E73',
  yellow: '#F0E442',
  blue: '#0072B2',
  vermillion: '#D55E00',
  reddishPurple: '#CC79A7',
} as const;

/** One colour per chamber 0–3 (yellow is left out: too light on white). */
export const CHAMBER_COLOURS: readonly string[] = [
  OKABE_ITO.blue,
  OKABE_ITO.orange,
  OKABE_ITO.bluishGreen,
  OKABE_ITO.reddishPurple,
];

/** Viridis sampled at 11 evenly spaced points (matplotlib's table), interpolated linearly between. */
const VIRIDIS_STOPS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84],
  [72, 36, 117],
  [65, 68, 135],
  [53, 95, 141],
  [42, 120, 142],
  [33, 145, 140],
  [34, 168, 132],
  [68, 191, 112],
  [122, 209, 81],
  [189, 223, 38],
  [253, 231, 37],
];

function hex(value: number): string {
  return Math.round(value).toString(16).padStart(2, '0');
}

/** Viridis at t ∈ [0, 1] (clamped), as #rrggbb. */
export function viridis(t: number): string {
  const clamped = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const position = clamped * (VIRIDIS_STOPS.length - 1);
  const index = Math.min(VIRIDIS_STOPS.length - 2, Math.floor(position));
  const fraction = position - index;
  const low = VIRIDIS_STOPS[index] ?? [0, 0, 0];
  const high = VIRIDIS_STOPS[index + 1] ?? low;
  const channel = (k: 0 | 1 | 2) => low[k] + (high[k] - low[k]) * fraction;
  return `#${hex(channel(0))}${hex(channel(1))}${hex(channel(2))}`;
}

/** Fill of a cell with no hits: clearly not part of the scale. */
export const EMPTY_CELL_COLOUR = '#eceff1';
