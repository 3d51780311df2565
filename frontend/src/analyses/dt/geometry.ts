/**
 * The telescope's cells in real geometry (dt.md "The detector"), for the SVG drawing. Constants come
 * from the analysis itself (shared/analyses/dt/detector.ts), so the drawing and the reducer agree.
 *
 * Within a chamber, channel c: wire index c div 4; layer by c mod 4 with layer-centre offsets from the
 * chamber centre of +19.5, −6.5, +6.5, −19.5 mm; wire at 42·(c div 4) + 21 mm for c mod 4 ∈ {0, 1}
 * and + 42 mm for {2, 3} (the half-cell stagger). Chamber 1 is rotated 90°: its wires run the other
 * way, so its coordinate is y and it is drawn as the orthogonal (y–z) view.
 */
import {
  CELL_HEIGHT_MM,
  CELL_WIDTH_MM,
  CELLS_PER_LAYER,
  CHAMBER_CENTRE_Z_MM,
  CHAMBER_MEASURES_Y,
  CHANNELS_PER_CHAMBER,
  fpgaChannelOf,
  LAYER_Z_OFFSET_MM,
  LAYERS_PER_CHAMBER,
  wirePositionMm,
} from '../../../../shared/analyses/dt/detector.ts';

export { CELL_HEIGHT_MM, CELL_WIDTH_MM, CHAMBER_CENTRE_Z_MM };

export interface Cell {
  readonly chamber: number;
  /** Chamber-local channel 0–63 (the occupancy histogram's bin). */
  readonly channel: number;
  readonly fpga: number;
  readonly tdcChannel: number;
  /** Wire (cell column) index 0–15. */
  readonly wire: number;
  /** c mod 4; its height order is 0 (top), 2, 1, 3 (bottom). */
  readonly layer: number;
  /** The coordinate this chamber measures: x, or y for the rotated chamber 1. */
  readonly axis: 'x' | 'y';
  /** Wire position along `axis`, mm. */
  readonly wireMm: number;
  /** Layer centre height, mm. */
  readonly zMm: number;
  /** The cell's rectangle along `axis` and z, mm. */
  readonly left: number;
  readonly right: number;
  readonly bottom: number;
  readonly top: number;
}

export function chamberAxis(chamber: number): 'x' | 'y' {
  return CHAMBER_MEASURES_Y[chamber] ? 'y' : 'x';
}

export function cellOf(chamber: number, channel: number): Cell {
  const layer = channel % LAYERS_PER_CHAMBER;
  const wireMm = wirePositionMm(channel);
  const zMm = (CHAMBER_CENTRE_Z_MM[chamber] ?? 0) + (LAYER_Z_OFFSET_MM[layer] ?? 0);
  const { fpga, channel: tdcChannel } = fpgaChannelOf(chamber, channel);
  return {
    chamber,
    channel,
    fpga,
    tdcChannel,
    wire: Math.floor(channel / LAYERS_PER_CHAMBER),
    layer,
    axis: chamberAxis(chamber),
    wireMm,
    zMm,
    left: wireMm - CELL_WIDTH_MM / 2,
    right: wireMm + CELL_WIDTH_MM / 2,
    bottom: zMm - CELL_HEIGHT_MM / 2,
    top: zMm + CELL_HEIGHT_MM / 2,
  };
}

/** The 64 cells of a chamber, by channel. */
export function chamberCells(chamber: number): Cell[] {
  return Array.from({ length: CHANNELS_PER_CHAMBER }, (_, channel) => cellOf(chamber, channel));
}

/** Extent of one chamber along its axis (with the stagger: 16.5 cells) and in z. */
export function chamberExtent(chamber: number): { left: number; right: number; bottom: number; top: number } {
  const centre = CHAMBER_CENTRE_Z_MM[chamber] ?? 0;
  const halfHeight = LAYERS_PER_CHAMBER * (CELL_HEIGHT_MM / 2);
  return {
    left: 0,
    right: CELLS_PER_LAYER * CELL_WIDTH_MM + CELL_WIDTH_MM / 2,
    bottom: centre - halfHeight,
    top: centre + halfHeight,
  };
}

export const CHAMBER_COUNT = CHAMBER_CENTRE_Z_MM.length;
