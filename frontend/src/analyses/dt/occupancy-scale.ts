import { EMPTY_CELL_COLOUR, viridis } from '../../lib/charts/palette.ts';

/** Fill of a cell: viridis over [0, max] for cells with hits, a neutral grey for none. */
export function cellFill(count: number, max: number): string {
  if (!(count > 0) || !(max > 0)) return EMPTY_CELL_COLOUR;
  return viridis(count / max);
}

/** CSS gradient of the legend bar. */
export const VIRIDIS_GRADIENT = `linear-gradient(to right, ${Array.from({ length: 11 }, (_, index) => viridis(index / 10)).join(', ')})`;
