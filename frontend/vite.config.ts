/**
 * The dashboard's build: `npm run build:frontend` writes frontend/dist, which the local runtime serves
 * at `/` beside the API (same origin, so the app calls `/api/v1/...`). `npm run dev:frontend` serves
 * it with hot reload and forwards /api to the local API on 127.0.0.1:7805 (`npm start`).
 */
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

const frontendRoot = fileURLToPath(new URL('.', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root: frontendRoot,
  plugins: [svelte()],
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
