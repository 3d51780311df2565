#!/usr/bin/env node
// The `driftline` command. The project is TypeScript run as-is through tsx's loader (no build
// step to forget); this file only registers the loader and hands over to cli.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
