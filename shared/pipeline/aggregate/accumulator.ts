import type { Json, JsonObject } from '../../core/analysis.ts';
import type { StoredItem } from '../ports.ts';

/** The payload of a state#… or rollup#… item. */
export interface AccumulatorPayload {
  /** The highest record sequence number folded in: the exactly-once guard. */
  readonly lastSequence: number;
  readonly data: Json;
  readonly rows: number;
  readonly batches: number;
  readonly rejectedRows: number;
  /** State items only: the last batch applied and where its summary is stored (to re-publish it). */
  readonly lastBatchId?: string;
  readonly lastSummarySk?: string;
}

export function readAccumulator(item: StoredItem | undefined): AccumulatorPayload | undefined {
  if (!item) return undefined;
  const payload = item.payload;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new Error(`state item ${item.pk}/${item.sk} holds no object`);
  }
  const number = (name: string) => {
    const value = payload[name];
    if (typeof value !== 'number')
      throw new Error(`state item ${item.pk}/${item.sk}: ${name} is not a number`);
    return value;
  };
  const data = payload.data;
  if (data === undefined) throw new Error(`state item ${item.pk}/${item.sk} has no data`);
  return {
    lastSequence: number('lastSequence'),
    data,
    rows: number('rows'),
    batches: number('batches'),
    rejectedRows: number('rejectedRows'),
    ...(typeof payload.lastBatchId === 'string' ? { lastBatchId: payload.lastBatchId } : {}),
    ...(typeof payload.lastSummarySk === 'string' ? { lastSummarySk: payload.lastSummarySk } : {}),
  };
}

export function accumulatorJson(payload: AccumulatorPayload): JsonObject {
  return { ...payload };
}
