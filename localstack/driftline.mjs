#!/usr/bin/env node
// The `driftline` command. The project is TypeScript run as-is through tsx's loader (no build
// step to forget); this file only registers the loader and hands over to cli.ts, for the commands
// that host the local runtime in a child process with a bounded V8 heap (runtime-heap.ts says why).
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// The AWS SDK warns on every client it builds that its releases after January 2027 need Node 22.
// Said once in the README (prerequisites) instead of many times in every command's output.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  if (String(warning).startsWith('NodeVersionSupportWarning')) return;
  emitWarning(warning, ...rest);
};

register();
const { heapBoundedArgs, runBoundedChild, stopWhenParentGoes } = await import('./runtime-heap.ts');
const argv = process.argv.slice(2);
const bounded = heapBoundedArgs({
  script: fileURLToPath(import.meta.url),
  argv,
  execArgv: process.execArgv,
  nodeOptions: process.env.NODE_OPTIONS,
});
if (bounded) {
  process.exitCode = await runBoundedChild(bounded);
} else {
  stopWhenParentGoes();
  const { main } = await import('./cli.ts');
  process.exitCode = await main(argv);
}
