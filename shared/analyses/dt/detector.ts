/**
 * The drift-tube telescope and its DAQ counters, as described in `dt.md`. Everything that is a
 * physical or format constant lives here so the parser, the reducer and the generator agree.
 */

/** Four chambers stacked vertically; chamber 1 is rotated 90° and measures the orthogonal view. */
export const CHAMBER_COUNT = 4;
/** 4 layers × 16 cells. */
export const CHANNELS_PER_CHAMBER = 64;
export const LAYERS_PER_CHAMBER = 4;
export const CELLS_PER_LAYER = 16;

/** z of each chamber's centre, mm. */
export const CHAMBER_CENTRE_Z_MM: readonly number[] = [219.8, 977.3, 1035.6, 1819.8];
/** Chamber 1 is rotated: it measures y while 0, 2 and 3 measure x. */
export const CHAMBER_MEASURES_Y: readonly boolean[] = [false, true, false, false];

export const CELL_WIDTH_MM = 42;
export const CELL_HEIGHT_MM = 13;
/** Layer-centre offsets from the chamber centre, by `channel mod 4`. */
export const LAYER_Z_OFFSET_MM: readonly number[] = [19.5, -6.5, 6.5, -19.5];
/** Layers 2 and 3 are staggered by half a cell. */
export const LAYER_X_STAGGER_MM: readonly number[] = [0, 0, CELL_WIDTH_MM / 2, CELL_WIDTH_MM / 2];

/** Drift velocity, mm per ns (53.8 µm/ns). */
export const DRIFT_VELOCITY_MM_PER_NS = 0.0538;
/** Half a cell: the longest drift, about 390 ns. */
export const MAX_DRIFT_DISTANCE_MM = CELL_WIDTH_MM / 2;

/** Wire position (mm, along the measured coordinate) of a chamber-local channel 0–63. */
export function wirePositionMm(localChannel: number): number {
  const layer = localChannel % LAYERS_PER_CHAMBER;
  const cell = Math.floor(localChannel / LAYERS_PER_CHAMBER);
  return CELL_WIDTH_MM * cell + CELL_WIDTH_MM / 2 + (LAYER_X_STAGGER_MM[layer] ?? 0);
}

/** Time offset per chamber between its hits and the scintillator (the scintillator signal is late). */
export const SCINTILLATOR_OFFSET_NS: readonly number[] = [93.9, 101.4, 95.5, 92.4];

// --- DAQ clock -------------------------------------------------------------------------------
/** 1 ORBIT = 3564 BX. */
export const BX_PER_ORBIT = 3564;
export const NS_PER_BX = 25;
/** 1 TDC count = 1/30 BX. */
export const TDC_PER_BX = 30;
export const ORBIT_NS = BX_PER_ORBIT * NS_PER_BX;

/**
 * Times inside an orbit are computed in thirtieths of a nanosecond: one BX is 750 units, one TDC count
 * is 25 units, and the chamber offsets (tenths of ns) become integers too. With integer TDC counts all
 * arithmetic is then exact in float64, so bin edges are never decided by rounding.
 */
export const TIME_UNITS_PER_NS = 30;
export const TIME_UNITS_PER_BX = NS_PER_BX * TIME_UNITS_PER_NS;
export const TIME_UNITS_PER_TDC = TIME_UNITS_PER_BX / TDC_PER_BX;
export const SCINTILLATOR_OFFSET_UNITS: readonly number[] = SCINTILLATOR_OFFSET_NS.map((offset) =>
  Math.round(offset * TIME_UNITS_PER_NS),
);

// --- Row layout ------------------------------------------------------------------------------
export const FIELD_NAMES = ['HEAD', 'FPGA', 'TDC_CHANNEL', 'ORBIT_CNT', 'BX_COUNTER', 'TDC_MEAS'] as const;
export const FIELD_COUNT = FIELD_NAMES.length;
export const HEADER_LINE = FIELD_NAMES.join(',');

/** HEAD of a TDC hit; every other HEAD is an ancillary word (trigger, tan ψ, local x …). */
export const HEAD_HIT = 2;

/**
 * Validity ranges. A HEAD = 2 row outside them is rejected (`out-of-range`); ancillary rows only need
 * six numeric fields and a HEAD that fits the 3-bit word field, since they legitimately carry values
 * outside hit ranges (BX above 3563, negative or fractional TDC_MEAS).
 */
export const HEAD_MAX = 7; // 3 bits in the packed word
export const FPGA_MAX = 1; // two FPGAs read the four chambers
export const TDC_CHANNEL_MAX = 511; // 9 bits in the packed word
export const ORBIT_CNT_MAX = 2 ** 32 - 1; // 32 bits in the packed word
export const BX_COUNTER_MAX = BX_PER_ORBIT - 1;
/** TDC_MEAS of a hit is in [0, 30): a count of 1/30 BX, fractional values accepted in text. */
export const TDC_MEAS_LIMIT = TDC_PER_BX;

/** Channels 0–127 of each FPGA are chamber hits (two chambers of 64 per FPGA). */
export const CHAMBER_CHANNELS_PER_FPGA = 2 * CHANNELS_PER_CHAMBER;
export const SCINTILLATOR_FPGA = 1;
export const SCINTILLATOR_CHANNEL = 128;
/** Auxiliary channels seen in real data (not chamber hits, counted only). */
export const AUXILIARY_CHANNELS = [138, 139] as const;

/** Chamber of a chamber hit: 0 = FPGA 0 ch 0–63, 1 = FPGA 0 ch 64–127, 2 = FPGA 1 ch 0–63, 3 = FPGA 1 ch 64–127. */
export function chamberOf(fpga: number, channel: number): number {
  return fpga * 2 + (channel >= CHANNELS_PER_CHAMBER ? 1 : 0);
}

/** The (FPGA, TDC_CHANNEL) pair that reads a chamber-local channel. */
export function fpgaChannelOf(chamber: number, localChannel: number): { fpga: number; channel: number } {
  return {
    fpga: chamber >= 2 ? 1 : 0,
    channel: (chamber % 2) * CHANNELS_PER_CHAMBER + localChannel,
  };
}
