import type { Json, JsonObject } from '../../core/analysis.ts';
import type { StoredItem } from '../ports.ts';
import type { GuardFields } from './sequence-guard.ts';

/** The payload of a state#… or rollup#… item. */
export interface AccumulatorPayload {
  /** Which record sequence numbers are folded in: the exactly-once guard (sequence-guard.ts). */
  readonly guard: GuardFields;
  readonly data: Json;
  readonly rows: number;
  readonly batches: number;
  readonly rejectedRows: number;
  /** State items only: the last batch applied and where its summary is stored (to re-publish it). */
  readonly lastBatchId?: string;
  readonly lastSummarySk?: string;
}

function isSequence(value: Json | undefined): value is number | string {
  return typeof value === 'number'
    ? Number.isInteger(value)
    : typeof value === 'string' && /^\d+$/.test(value);
}

/** The guard fields of a payload; items written before gaps were tracked have lastSequence alone. */
function readGuard(payload: JsonObject, where: string): GuardFields {
  const { lastSequence, firstSequence, missingSequences, droppedGaps } = payload;
  if (!isSequence(lastSequence)) throw new Error(`${where}: lastSequence is not a sequence number`);
  const missing: [number, number][] = [];
  if (missingSequences !== undefined) {
    if (!Array.isArray(missingSequences)) throw new Error(`${where}: missingSequences is not a list`);
    let above = typeof firstSequence === 'number' ? firstSequence : 0;
    for (const range of missingSequences) {
      const [from, to] = Array.isArray(range) ? range : [];
      if (typeof from !== 'number' || typeof to !== 'number' || from <= above || to < from)
        throw new Error(`${where}: missingSequences is not ascending ranges`);
      missing.push([from, to]);
      above = to + 1;
    }
  }
  return {
    lastSequence,
    ...(typeof firstSequence === 'number' ? { firstSequence } : {}),
    ...(missing.length > 0 ? { missingSequences: missing } : {}),
    ...(typeof droppedGaps === 'number' ? { droppedGaps } : {}),
  };
}

export function readAccumulator(item: StoredItem | undefined): AccumulatorPayload | undefined {
  if (!item) return undefined;
  const payload = item.payload;
  const where = `state item ${item.pk}/${item.sk}`;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new Error(`${where} holds no object`);
  }
  const number = (name: string) => {
    const value = payload[name];
    if (typeof value !== 'number') throw new Error(`${where}: ${name} is not a number`);
    return value;
  };
  const data = payload.data;
  if (data === undefined) throw new Error(`${where} has no data`);
  return {
    guard: readGuard(payload, where),
    data,
    rows: number('rows'),
    batches: number('batches'),
    rejectedRows: number('rejectedRows'),
    ...(typeof payload.lastBatchId === 'string' ? { lastBatchId: payload.lastBatchId } : {}),
    ...(typeof payload.lastSummarySk === 'string' ? { lastSummarySk: payload.lastSummarySk } : {}),
  };
}

export function accumulatorJson(payload: AccumulatorPayload): JsonObject {
  const { guard, ...rest } = payload;
  return {
    lastSequence: guard.lastSequence,
    ...(guard.firstSequence === undefined ? {} : { firstSequence: guard.firstSequence }),
    ...(guard.missingSequences === undefined
      ? {}
      : { missingSequences: guard.missingSequences.map(([from, to]) => [from, to]) }),
    ...(guard.droppedGaps === undefined ? {} : { droppedGaps: guard.droppedGaps }),
    ...rest,
  };
}
