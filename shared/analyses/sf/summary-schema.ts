/**
 * The `sf` summary body (summary.ts writes it): one shape for a batch (the body of its `data_clean`
 * message), a time bucket and the cumulative state; as the API serves it, with the radio-code join
 * (radio-codes.ts) filling `dispositions[].description` and adding `disposition_descriptions`. Pure
 * zod, read by the API's tests and the dashboard (frontend/src/analyses/sf/summary.ts) alike.
 */
import { z } from 'zod';
import { rejectionCountsShape } from '../../contracts/summary-body.ts';

const count = z.number().int().min(0);
/** Event time as ISO text (SF wall clock read as UTC, event-time.ts); null before any timed row. */
const eventTime = z.string().nullable();

export const crimeTypeCountSchema = z.object({ original_crime_type_name: z.string(), count });

export const dispositionCountSchema = z.object({
  disposition: z.string(),
  count,
  /** null until the radio-code join fills it, and for a code the table lacks; absent reads as null. */
  description: z.string().nullable().default(null),
});

export const sfWindowSchema = z.object({
  start: z.string(),
  end: z.string(),
  /** The watermark has passed its end. */
  final: z.boolean(),
  rows: count,
  /** Distinct crime types in the window; `top` lists the first of them. */
  crime_types: count,
  /** Rows in the window whose crime type is beyond the per-window cap (limits.ts); absent when none. */
  crime_types_other: count.optional(),
  top: z.array(crimeTypeCountSchema),
});

export const sfSummarySchema = z.object({
  rows_read: count,
  rows_dropped_empty: count,
  rows_duplicate: count,
  ...rejectionCountsShape,
  rows_distinct: count,
  rows_late: count,
  rows_beyond_dedup_horizon: count,
  rows_out_of_order: count,
  dedup: z.object({
    mode: z.enum(['exact', 'bounded']),
    horizon_minutes: z.number().nullable(),
    /** Keys held: in a state's summary, not a batch's. */
    keys: count.optional(),
  }),
  watermark_delay_minutes: z.number(),
  event_time: z.object({ min: eventTime, max: eventTime, watermark: eventTime }),
  crime_type_count: count,
  /** Every crime type, count descending then name (at most MAX_CRIME_TYPES, limits.ts). */
  crime_types: z.array(crimeTypeCountSchema),
  /** Distinct rows whose crime type is beyond MAX_CRIME_TYPES, counted but not by name; absent when none. */
  crime_types_other: count.optional(),
  dispositions: z.array(dispositionCountSchema),
  /** The same for dispositions beyond MAX_DISPOSITIONS. */
  dispositions_other: count.optional(),
  windows: z.object({
    size_minutes: z.number(),
    slide_minutes: z.number(),
    count,
    /** The most recent windows, newest first. */
    recent: z.array(sfWindowSchema),
  }),
  notes: z.array(z.string()),
  /** Added by the radio-code join (the API, when it has the table). */
  disposition_descriptions: z
    .object({
      source: z.string(),
      codes_in_table: count,
      rows_described: count,
      rows_without_description: count,
      codes_without_description: z.array(z.string()),
    })
    .optional(),
});
export type SfSummary = z.infer<typeof sfSummarySchema>;
