/**
 * The Lambda adapter: the only file that imports the Lambda SDK. Replay uses it to continue itself
 * in a fresh invocation before the 15-minute limit. Locally, DRIFTLINE_LAMBDA_ENDPOINT points at the
 * local runtime, which serves the same Invoke API.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { FunctionConfig } from '../config.ts';

export function createLambdaClient(aws: FunctionConfig['aws']): LambdaClient {
  if (!aws.lambdaEndpoint) return new LambdaClient({ region: aws.region });
  return new LambdaClient({
    region: aws.region,
    endpoint: aws.lambdaEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/** Invokes `functionName` asynchronously (InvocationType Event) with `payload`. */
export async function invokeAsync(
  client: LambdaClient,
  functionName: string,
  payload: unknown,
): Promise<void> {
  const result = await client.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'Event',
      Payload: JSON.stringify(payload),
    }),
  );
  if (result.StatusCode !== 202)
    throw new Error(`async invoke of ${functionName} answered ${result.StatusCode}`);
}
