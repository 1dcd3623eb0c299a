import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Network tests bind loopback port 0 and clean up after themselves; files run in parallel.
    pool: 'forks',
  },
});
