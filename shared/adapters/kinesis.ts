/** The Kinesis adapter: the only file that imports the Kinesis SDK. */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { FunctionConfig } from '../config.ts';

export function createKinesisClient(
  aws: Pick<FunctionConfig['aws'], 'region' | 'kinesisEndpoint'>,
): KinesisClient {
  if (!aws.kinesisEndpoint) return new KinesisClient({ region: aws.region });
  return new KinesisClient({
    region: aws.region,
    endpoint: aws.kinesisEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    // kinesalite speaks HTTP/1.1 only; the client's default HTTP/2 handler fails with "Protocol error".
    requestHandler: new NodeHttpHandler(),
  });
}
