/**
 * The dashboard's build: `npm run build:frontend` writes frontend/dist, which the local runtime serves
 * at `/` beside the API (same origin, so the app calls `/api/v1/...`); `npm start` runs this build
 * itself when dist is missing or older than its sources (localstack/dashboard-build.ts).
 * `npm run dev:frontend` serves it with hot reload and forwards /api to the local API on
 * 127.0.0.1:7805 (`npm start`).
 */
import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, type Plugin } from 'vite';

const frontendRoot = fileURLToPath(new URL('.', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

/** Where the build lists the files it was made from (beside Vite's own manifest, not served). */
export const BUILD_SOURCES_FILE = '.vite/driftline-sources.json';

/**
 * Lists every file the bundle was built from (the dashboard's own, what it imports from shared/,
 * the packages it bundles) plus this configuration, relative to the repository. Whether dist is
 * up to date is then a plain comparison of modification times, with nothing to keep in sync by hand.
 */
function recordBuildSources(): Plugin {
  return {
    name: 'driftline-record-build-sources',
    apply: 'build',
    generateBundle(_options, bundle) {
      const files = new Set(['frontend/vite.config.ts', 'frontend/svelte.config.js', 'frontend/index.html']);
      const ids = [
        ...this.getModuleIds(),
        ...Object.values(bundle).flatMap((output) => (output.type === 'chunk' ? output.moduleIds : [])),
      ];
      for (const id of ids) {
        const file = id.split('?')[0] ?? '';
        if (isAbsolute(file)) files.add(relative(repositoryRoot, file));
      }
      this.emitFile({
        type: 'asset',
        fileName: BUILD_SOURCES_FILE,
        source: `${JSON.stringify({ files: [...files].sort() }, null, 1)}\n`,
      });
    },
  };
}

export default defineConfig({
  root: frontendRoot,
  plugins: [svelte(), recordBuildSources()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    port: 7806,
    strictPort: false,
    proxy: { '/api': 'http://127.0.0.1:7805' },
    // The telescope geometry is imported from shared/analyses/dt (one source of truth).
    fs: { allow: [repositoryRoot] },
  },
});
