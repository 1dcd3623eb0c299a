/**
 * The packed package in the apps that install it: a plain CommonJS app, TypeScript apps
 * compiled as CommonJS and as ESM (`module: nodenext`), and type-checks under `bundler` and
 * `node10` resolution — each in a scratch project with the tarball installed beside the real
 * peers. The apps that run subscribe to tracked procedures end to end: tracked events must
 * arrive as `{ id, data }`, which holds only when the app and trpc-sse share one
 * `@trpc/server` (a CommonJS app handed the ESM build would get raw tuples).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, test } from 'vitest';
import {
  BUNDLER,
  compileApp,
  consumerSource,
  expectAppResult,
  expectCompiled,
  NODE10,
  NODENEXT,
  parsed,
  SLOW,
  TICKS,
} from './consumerApp.js';
import { createScratchProject, runIn } from './scratch.js';

const pkg = inject('packedPackage');

describe('a plain CommonJS app', () => {
  test(
    'requires every entry point from the CommonJS build and gets tracked events as { id, data }',
    async () => {
      const dir = createScratchProject(pkg, {
        name: 'cjs-app',
        type: 'commonjs',
        trpc: 'pinned',
        files: { 'app.js': consumerSource('app.cjs') },
      });
      const result = parsed<{
        loaded: Record<string, { file: string; exports: string[] }>;
        ticks: Record<string, unknown[]>;
        crossBuild: Record<string, boolean>;
      }>(await runIn(dir, process.execPath, ['app.js']), 'the CommonJS app');

      const files: Record<string, string> = {
        client: 'client/index.js',
        'client/distinct': 'client/distinct/index.js',
        server: 'server/index.js',
        express: 'adapters/express.js',
        node: 'adapters/node.js',
        fetch: 'adapters/fetch.js',
        redis: 'redis/index.js',
      };
      for (const [name, file] of Object.entries(files)) {
        expect(result.loaded[name]!.file, name).toBe(join(dir, 'node_modules/trpc-sse/dist/cjs', file));
      }
      const client = ['sseLink', 'createSSEClient', 'defaultShouldRetry', 'backoffDelay'];
      expect(result.loaded['client']!.exports).toEqual(expect.arrayContaining(client));
      expect(result.loaded['client/distinct']!.exports).toEqual(expect.arrayContaining(client));
      const server = ['createSSECore', 'createMemoryEventLog', 'isReset', 'TRPC_SSE_EVENT'];
      expect(result.loaded['server']!.exports).toEqual(expect.arrayContaining(server));
      expect(result.loaded['express']!.exports).toContain('createSSEMiddleware');
      expect(result.loaded['node']!.exports).toContain('createSSEHandler');
      expect(result.loaded['fetch']!.exports).toEqual(
        expect.arrayContaining(['sseFetchHandler', 'createSSEFetchHandler']),
      );
      expect(result.loaded['redis']!.exports).toEqual(
        expect.arrayContaining(['createRedisEventLog', 'createRedisConnectionDirectory']),
      );

      expect(result.ticks['multiplexed']).toEqual(TICKS);
      expect(result.ticks['distinct']).toEqual(TICKS);
      expect(result.crossBuild).toEqual({ separateBuilds: true, esmResetSeenByCjs: true, cjsResetSeenByEsm: true });
    },
    SLOW,
  );
});

describe('TypeScript apps', () => {
  test.concurrent(
    'module nodenext, package type commonjs: compiles to require() and runs',
    async () => {
      const { dir, compiled } = await compileApp(pkg, 'ts-cjs', 'commonjs', 'pinned', NODENEXT);
      expectCompiled(compiled);
      expect(readFileSync(join(dir, 'out/app.js'), 'utf8')).toMatch(/require\(["']trpc-sse\/client["']\)/);
      expectAppResult(parsed(await runIn(dir, process.execPath, ['out/app.js']), 'the compiled CommonJS app'));
    },
    SLOW,
  );

  test.concurrent(
    'module nodenext, package type module: compiles to import and runs',
    async () => {
      const { dir, compiled } = await compileApp(pkg, 'ts-esm', 'module', 'pinned', NODENEXT);
      expectCompiled(compiled);
      expect(readFileSync(join(dir, 'out/app.js'), 'utf8')).toMatch(/from ["']trpc-sse\/client["']/);
      expectAppResult(parsed(await runIn(dir, process.execPath, ['out/app.js']), 'the compiled ESM app'));
    },
    SLOW,
  );

  test.concurrent(
    'moduleResolution bundler type-checks',
    async () => {
      expectCompiled((await compileApp(pkg, 'ts-bundler', 'module', 'pinned', BUNDLER)).compiled);
    },
    SLOW,
  );

  test.concurrent(
    'moduleResolution node10 type-checks',
    async () => {
      expectCompiled((await compileApp(pkg, 'ts-node10', 'commonjs', 'pinned', NODE10)).compiled);
    },
    SLOW,
  );
});
