/**
 * The published package: every subpath of DESIGN.md resolves (from the built `dist`, by the
 * package's own name, as an app would import it) and exports its documented names; the
 * client and server entries bundle for a browser, i.e. import no Node built-in.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const entries: Record<string, string[]> = {
  'trpc-sse/client': ['sseLink', 'createSSEClient', 'defaultShouldRetry', 'backoffDelay'],
  'trpc-sse/client/distinct': [
    'sseLink',
    'createSSEClient',
    'defaultShouldRetry',
    'backoffDelay',
    'CORS_REQUEST_HEADERS',
  ],
  'trpc-sse/server': ['createSSECore', 'SSE_SERVER_DEFAULTS', 'TRPC_SSE_EVENT', 'createMemoryEventLog', 'isReset'],
  'trpc-sse/express': ['createSSEMiddleware'],
  'trpc-sse/node': ['createSSEHandler'],
  'trpc-sse/fetch': ['sseFetchHandler', 'createSSEFetchHandler'],
  'trpc-sse/redis': ['createRedisEventLog', 'createRedisConnectionDirectory'],
  'trpc-sse/postgres': [
    'createPostgresEventLog',
    'createPostgresConnectionDirectory',
    'postgresEventLogSchema',
    'postgresConnectionDirectorySchema',
  ],
};

describe('package exports', () => {
  test.each(Object.entries(entries))('%s exports %j', async (specifier, names) => {
    const mod = (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
    for (const name of names) expect(typeof mod[name], name).not.toBe('undefined');
  });
});

describe('browser-safe entries', () => {
  test.each(['src/client/index.ts', 'src/client/distinct/index.ts', 'src/server/index.ts'])(
    '%s bundles for the browser',
    async (entry) => {
      const result = await build({
        entryPoints: [fileURLToPath(new URL(`../../${entry}`, import.meta.url))],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        write: false,
        logLevel: 'silent',
        // tRPC itself is the app's; only our own imports are under test.
        external: ['@trpc/*'],
      });
      const text = result.outputFiles[0]!.text;
      expect(text).not.toMatch(/from\s*["']node:/);
      expect(text).not.toMatch(/require\(["'](node:)?(http|fs|net|events|stream)["']\)/);
    },
  );
});
