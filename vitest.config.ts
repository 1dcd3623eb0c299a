import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const latestTrpc = fileURLToPath(new URL('./test/fixtures/trpc-latest/node_modules/@trpc/', import.meta.url));

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Network tests bind loopback port 0 and clean up after themselves; files run in parallel.
    pool: 'forks',
    globalSetup: ['test/setup/systemPackages.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'trpc-pinned',
          include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
          env: { EXPECTED_TRPC_VERSION: '11.19.0' },
        },
      },
      {
        // The library's peer range is ^11: the server and client suites run once more with
        // the newest published @trpc/server and @trpc/client swapped in underneath.
        extends: true,
        resolve: {
          alias: [{ find: /^@trpc\/(server|client)(\/.*)?$/, replacement: `${latestTrpc}$1$2` }],
        },
        test: {
          name: 'trpc-latest',
          env: { EXPECTED_TRPC_VERSION: '11.25.2' },
          include: ['test/adapters/**/*.test.ts', 'test/server/**/*.test.ts', 'test/client/**/*.test.ts'],
        },
      },
    ],
  },
});
