import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';
import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure code, in-memory fakes, no servers) and `integration` (the real local
// stack: Kafka broker + S3/DynamoDB/Kinesis emulators, started once per run by the global setup).
// A third, `frontend`: the dashboard's data layer and components, compiled by Svelte, under jsdom.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // Beside the integration project on two shared cores, 5 s (vitest's default) is too tight
          // for the tests that start the CLI; a hung test still fails.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          // One stack is shared by the whole run; files run one after another so they do not
          // compete for the same topics and tables on a 2-core machine.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        plugins: [svelte({ configFile: false }), svelteTesting()],
        test: {
          name: 'frontend',
          include: ['frontend/src/**/*.test.ts'],
          environment: 'jsdom',
          testTimeout: 30_000,
          setupFiles: ['frontend/src/test-setup.ts'],
        },
      },
    ],
  },
});
