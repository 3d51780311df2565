import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure code, in-memory fakes, no servers) and `integration` (the real local
// stack: Kafka broker + S3/DynamoDB/Kinesis emulators, started once per run by the global setup).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
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
    ],
  },
});
