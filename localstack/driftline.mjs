#!/usr/bin/env node
// The `driftline` command. The project is TypeScript run as-is through tsx's loader (no build
// step to forget); this file only registers the loader and hands over to cli.ts.
import { register } from 'tsx/esm/api';

// The AWS SDK warns on every client it builds that its releases after January 2027 need Node 22.
// Said once in the README (prerequisites) instead of many times in every command's output.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  if (String(warning).startsWith('NodeVersionSupportWarning')) return;
  emitWarning(warning, ...rest);
};

register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
