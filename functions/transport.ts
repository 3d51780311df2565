/**
 * The transport of a stage (DRIFTLINE_TRANSPORT, set per stage in serverless.yml): which adapter
 * publishes, under which names the raw, clean and dead-letter roles go, and how the trigger's event
 * is decoded. Everything above this is the same code for Kafka and Kinesis.
 */
import { createKafka, createKafkaPublisher } from '../shared/adapters/kafka.ts';
import { createKinesisClient, createKinesisPublisher } from '../shared/adapters/kinesis.ts';
import type { FunctionConfig } from '../shared/config.ts';
import type { BatchSlice } from '../shared/pipeline/batch-slice.ts';
import { decodeKinesisEvent } from '../shared/pipeline/kinesis-event.ts';
import { decodeMskEvent } from '../shared/pipeline/msk-event.ts';
import type { Publisher } from '../shared/pipeline/ports.ts';

export interface Transport {
  readonly publisher: Publisher;
  /** Topic (Kafka) or stream (Kinesis) names of the three roles. */
  readonly names: { readonly raw: string; readonly clean: string; readonly dead: string };
  /** The trigger's event (MSK or Kinesis) as transport-neutral slices. */
  readonly decodeEvent: (event: unknown) => BatchSlice[];
}

export function transportOf(config: FunctionConfig, clientId: string): Transport {
  if (config.transport === 'kinesis') {
    return {
      publisher: createKinesisPublisher(createKinesisClient(config.aws)),
      names: config.streams,
      decodeEvent: decodeKinesisEvent,
    };
  }
  return {
    publisher: createKafkaPublisher(createKafka(config.kafka, { clientId })),
    names: config.topics,
    decodeEvent: decodeMskEvent,
  };
}
