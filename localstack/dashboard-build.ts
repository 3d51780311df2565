/**
 * The dashboard `npm start` serves: frontend/dist, built here when it is missing or older than any
 * file it was built from, so a fresh clone needs no second command.
 *
 * Why a build and not Vite's dev middleware: the build takes a few seconds once (Vite 8, Rolldown),
 * after which the page is static files — no file watcher, no transform on each request, nothing
 * competing with the pipeline for two cores while the demo runs; and what is served is what
 * `npm run build:frontend` would deploy. The build records the files it read
 * (frontend/vite.config.ts writes dist/.vite/driftline-sources.json), so "older than its sources"
 * is exact: the dashboard's own files, what it imports from shared/, the bundled packages.
 * It runs in a child process, so its memory is returned before the pipeline starts.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { PROJECT_ROOT } from './service-definition.ts';

const execFileAsync = promisify(execFile);

/** The folder served at `/`. */
export const DASHBOARD_DIST = join(PROJECT_ROOT, 'frontend', 'dist');
/** What the build writes to dist/.vite/driftline-sources.json (frontend/vite.config.ts). */
const sourcesSchema = z.object({ files: z.array(z.string()) });

/** Whether dist can be served as it is, or why it must be built. */
export async function dashboardBuildNeeded(root: string = PROJECT_ROOT): Promise<string | undefined> {
  const dist = join(root, 'frontend', 'dist');
  const index = join(dist, 'index.html');
  if (!existsSync(index)) return 'frontend/dist is missing';
  const sources = await readFile(join(dist, '.vite', 'driftline-sources.json'), 'utf8')
    .then((text) => sourcesSchema.parse(JSON.parse(text)).files)
    .catch(() => undefined);
  if (!sources) return 'frontend/dist was built by an older version';
  const builtAt = (await stat(index)).mtimeMs;
  for (const file of sources) {
    const info = await stat(join(root, file)).catch(() => undefined);
    if (!info) return `${file} is gone since the last build`;
    if (info.mtimeMs > builtAt) return `${file} changed since the last build`;
  }
  return undefined;
}

export interface Dashboard {
  /** The folder to serve, or undefined when there is no dashboard to serve. */
  readonly staticDir: string | undefined;
  /** Why there is none (a failed build), for the banner. */
  readonly problem?: string;
}

/**
 * Builds the dashboard if needed, writing one progress line to `progress`, and says what to serve:
 * the fresh build; after a failed build an older dist if there is one (with the problem), else none.
 */
export async function ensureDashboard(progress: (text: string) => void): Promise<Dashboard> {
  const reason = await dashboardBuildNeeded();
  if (reason === undefined) return { staticDir: DASHBOARD_DIST };
  progress(`Building the dashboard (${reason})… `);
  const started = Date.now();
  try {
    await execFileAsync(
      process.execPath,
      [
        join(PROJECT_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'),
        'build',
        '--config',
        'frontend/vite.config.ts',
      ],
      { cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } },
    );
    progress(`${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return { staticDir: DASHBOARD_DIST };
  } catch (error) {
    const output = error instanceof Error && 'stderr' in error ? String(error.stderr).trim() : '';
    const detail = (output || (error instanceof Error ? error.message : String(error))).split('\n').slice(-8);
    progress(`failed:\n  ${detail.join('\n  ')}\n`);
    const problem = 'the build failed (see above; `npm run build:frontend` shows it again)';
    return existsSync(join(DASHBOARD_DIST, 'index.html'))
      ? { staticDir: DASHBOARD_DIST, problem: `${problem}; serving the previous build` }
      : { staticDir: undefined, problem };
  }
}
