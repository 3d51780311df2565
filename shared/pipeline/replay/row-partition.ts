import { partitionForKey } from '../../core/kafka-partitioner.ts';

/**
 * The partition of data_raw a replay sends a row to: the object's fixed partition (metadata
 * `partition`), else the one Kafka's default partitioner gives the row's key; a row without a
 * readable key (to be rejected downstream) by its position in the object (0-based), which every
 * invocation computes alike. Replay and reconcile both use it, so they cannot disagree.
 */
export function rowPartition(
  rowKey: string | undefined,
  rowPosition: number,
  partitions: number,
  fixedPartition: number | undefined,
): number {
  if (fixedPartition !== undefined) return fixedPartition;
  return rowKey === undefined ? rowPosition % partitions : partitionForKey(rowKey, partitions);
}
