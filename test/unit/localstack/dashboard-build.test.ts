import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dashboardBuildNeeded } from '../../../localstack/dashboard-build.ts';

const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

const BUILT_AT = new Date('2026-12-01T07:00:00Z');
const BEFORE = new Date('2026-12-01T06:00:00Z');
const AFTER = new Date('2026-12-01T08:00:00Z');

/** A repository whose dist was built at BUILT_AT from `sources` (each written at BEFORE). */
async function builtRepository(sources: readonly string[], options: { listed?: boolean } = {}) {
  const root = await mkdtemp(join(tmpdir(), 'driftline-dashboard-build-'));
  roots.push(root);
  for (const file of sources) {
    await mkdir(join(root, file, '..'), { recursive: true });
    await writeFile(join(root, file), 'source');
    await utimes(join(root, file), BEFORE, BEFORE);
  }
  await mkdir(join(root, 'frontend', 'dist', '.vite'), { recursive: true });
  await writeFile(join(root, 'frontend', 'dist', 'index.html'), '<!doctype html>');
  await utimes(join(root, 'frontend', 'dist', 'index.html'), BUILT_AT, BUILT_AT);
  if (options.listed !== false) {
    await writeFile(
      join(root, 'frontend', 'dist', '.vite', 'driftline-sources.json'),
      JSON.stringify({ files: sources }),
    );
  }
  return root;
}

const SOURCES = [
  'frontend/src/App.svelte',
  'shared/contracts/api.ts',
  'node_modules/uplot/dist/uPlot.esm.js',
];

describe('dashboardBuildNeeded', () => {
  it('nothing to do when no source is newer than the build', async () => {
    expect(await dashboardBuildNeeded(await builtRepository(SOURCES))).toBeUndefined();
  });

  it('a build when dist is missing (a fresh clone)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'driftline-dashboard-build-'));
    roots.push(root);
    expect(await dashboardBuildNeeded(root)).toBe('frontend/dist is missing');
  });

  it('a build when a source it was built from changed, also one outside frontend/, or is gone', async () => {
    const root = await builtRepository(SOURCES);
    await utimes(join(root, 'shared/contracts/api.ts'), AFTER, AFTER);
    expect(await dashboardBuildNeeded(root)).toBe('shared/contracts/api.ts changed since the last build');

    const other = await builtRepository(SOURCES);
    await rm(join(other, 'frontend/src/App.svelte'));
    expect(await dashboardBuildNeeded(other)).toBe('frontend/src/App.svelte is gone since the last build');
  });

  it('a build when dist does not say what it was built from', async () => {
    expect(await dashboardBuildNeeded(await builtRepository(SOURCES, { listed: false }))).toBe(
      'frontend/dist was built by an older version',
    );
  });
});
