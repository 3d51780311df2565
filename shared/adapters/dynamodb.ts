/** The DynamoDB adapter: the only file that imports the DynamoDB SDK. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { FunctionConfig } from '../config.ts';

export function createDynamoDbClient(aws: FunctionConfig['aws']): DynamoDBClient {
  if (!aws.dynamodbEndpoint) return new DynamoDBClient({ region: aws.region });
  return new DynamoDBClient({
    region: aws.region,
    endpoint: aws.dynamodbEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}
