/**
 * `driftline demo` (`npm start`): the main job on one machine. Starts the embedded local cloud in
 * the foreground and stops everything on Ctrl-C.
 */
import { parseArgs } from 'node:util';
import { startStack } from '../stack-control.ts';
import { describeStack } from './stack.ts';

export const demoUsage = `Usage: driftline demo [--fresh]

Starts the local cloud (Kafka, S3, DynamoDB, Kinesis on 127.0.0.1) in the foreground and runs the
pipeline on it until Ctrl-C, which stops everything it started.

Options:
  --fresh  start from empty topics, bucket and tables`;

export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { fresh: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(demoUsage);
    return 0;
  }
  console.error('Starting the local cloud…');
  const stack = await startStack({ attached: true, fresh: values.fresh });
  console.log(describeStack(stack.info));
  console.log('\nPress Ctrl-C to stop.');
  await new Promise<void>((resolveStop) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolveStop());
  });
  console.error('\nStopping…');
  await stack.stop();
  console.error('Stopped.');
  return 0;
}
