/**
 * Test helper process: starts an attached stack, prints its info as one JSON line, then waits to be
 * killed. Used to check that a stack whose parent dies (an interrupted test run) stops by itself.
 */
import { startStack } from '../../localstack/stack-control.ts';
import { isolatedStackEnvironment } from './isolated-stack.ts';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: hold-stack.ts <data-dir>');
const stack = await startStack({ attached: true, env: isolatedStackEnvironment(dataDir) });
console.log(JSON.stringify(stack.info));
setInterval(() => {}, 60_000);
