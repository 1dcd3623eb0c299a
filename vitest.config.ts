import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig, type Plugin } from 'vitest/config';

const fixture = (name: string): string => fileURLToPath(new URL(`./test/fixtures/${name}/`, import.meta.url));
const TRPC_SPECIFIER = /^@trpc\/(server|client)(\/.*)?$/;

/**
 * Resolves `@trpc/server` and `@trpc/client` (and their subpaths) as an app installed beside
 * the fixture `name` would: through the fixture's own node_modules, by the packages' `exports`
 * (a subpath of an older release may be a CommonJS stub folder, which a path alias would pick).
 * The `trpc-latest` fixture's re-exports keep their own copy, so interop tests still pair a
 * stock release with the one the project runs on.
 */
function trpcFrom(name: string): Plugin {
  const anchor = `${fixture(name)}package.json`;
  const latest = fixture('trpc-latest');
  return {
    name: `trpc-from-${name}`,
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (!TRPC_SPECIFIER.test(source) || importer?.startsWith(latest)) return null;
      return this.resolve(source, anchor, { ...options, skipSelf: true });
    },
  };
}

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // `expect.poll` waits for a state the code reaches by itself; on a busy machine that can
    // take longer than the default second. (`vi.waitFor` calls give their own bound.)
    expect: { poll: { timeout: 10_000 } },
    // Network tests bind loopback port 0 and clean up after themselves; files run in parallel.
    pool: 'forks',
    globalSetup: ['test/setup/systemPackages.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'trpc-pinned',
          include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
          exclude: [...configDefaults.exclude, 'test/package/**'],
          env: { EXPECTED_TRPC_VERSION: '11.19.0' },
        },
      },
      {
        // The published package: packed once per run (by the global setup), then installed in
        // scratch apps, checked by attw and publint, and type-checked against the lowest peers.
        extends: true,
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          globalSetup: ['test/package/packSetup.ts'],
        },
      },
      {
        // The library's peer range is ^11: the server and client suites run once more with
        // the newest published @trpc/server and @trpc/client swapped in underneath.
        extends: true,
        plugins: [trpcFrom('trpc-latest')],
        test: {
          name: 'trpc-latest',
          env: { EXPECTED_TRPC_VERSION: '11.25.2' },
          include: ['test/adapters/**/*.test.ts', 'test/server/**/*.test.ts', 'test/client/**/*.test.ts'],
        },
      },
      {
        // ... and with the lowest release of the peer range (package.json peerDependencies),
        // so that floor is tested, not assumed. The interop suite runs our client against stock
        // servers of that release and of the newest.
        extends: true,
        plugins: [trpcFrom('trpc-lowest')],
        test: {
          name: 'trpc-lowest',
          env: { EXPECTED_TRPC_VERSION: '11.0.0' },
          include: [
            'test/adapters/**/*.test.ts',
            'test/server/**/*.test.ts',
            'test/client/**/*.test.ts',
            'test/interop/**/*.test.ts',
          ],
          exclude: [
            ...configDefaults.exclude,
            // Its yardstick is stock wsLink, and 11.0.0's wsLink reports `connecting` to a
            // subscription after `pending` once connected; the newer releases the other
            // projects run do not. Our sseLink is held to the newer behaviour there.
            'test/client/wsLinkSwap.test.ts',
            // Stock httpSubscriptionLink against our server: @trpc/client exports the
            // `isTRPCClientError` its kit uses only from 11.3.0, and 11.0.0's link reads a
            // global `EventSource` when a stream ends (Node 20 has none). Both are the stock
            // client's; our client against stock 11.0.0 servers runs (stockServer.test.ts).
            'test/interop/stockClient.test.ts',
          ],
        },
      },
    ],
  },
});
