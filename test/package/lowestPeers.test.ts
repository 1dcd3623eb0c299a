/**
 * The floor of the peer range: the packed package with the lowest @trpc/server and
 * @trpc/client that package.json's peerDependencies admit (test/fixtures/trpc-lowest). Its
 * declarations must type-check against them with `skipLibCheck: false` in every resolution
 * mode, and the compiled apps must run end to end on them. (The vitest project `trpc-lowest`
 * runs the server, client, adapter and interop suites on the same release.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, inject, test } from 'vitest';
import { BUNDLER, compileApp, expectAppResult, expectCompiled, NODE10, NODENEXT, parsed, SLOW } from './consumerApp.js';
import { runIn } from './scratch.js';

const pkg = inject('packedPackage');

const LOWEST = '11.0.0';

test('the fixture is the lowest release of the peer range', () => {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    peerDependencies: Record<string, string>;
  };
  expect(manifest.peerDependencies['@trpc/server']).toBe(`^${LOWEST}`);
  expect(manifest.peerDependencies['@trpc/client']).toBe(`^${LOWEST}`);
  for (const name of ['server', 'client']) {
    const installed = JSON.parse(
      readFileSync(new URL(`../fixtures/trpc-lowest/node_modules/@trpc/${name}/package.json`, import.meta.url), 'utf8'),
    ) as { version: string };
    expect(installed.version, name).toBe(LOWEST);
  }
});

describe(`with @trpc/server and @trpc/client ${LOWEST}`, () => {
  test.concurrent(
    'module nodenext, package type commonjs: type-checks, compiles and runs',
    async () => {
      const { dir, compiled } = await compileApp(pkg, 'lowest-cjs', 'commonjs', 'lowest', NODENEXT);
      expectCompiled(compiled);
      expectAppResult(parsed(await runIn(dir, process.execPath, ['out/app.js']), 'the compiled CommonJS app'));
    },
    SLOW,
  );

  test.concurrent(
    'module nodenext, package type module: type-checks, compiles and runs',
    async () => {
      const { dir, compiled } = await compileApp(pkg, 'lowest-esm', 'module', 'lowest', NODENEXT);
      expectCompiled(compiled);
      expectAppResult(parsed(await runIn(dir, process.execPath, ['out/app.js']), 'the compiled ESM app'));
    },
    SLOW,
  );

  test.concurrent(
    'moduleResolution bundler type-checks',
    async () => {
      expectCompiled((await compileApp(pkg, 'lowest-bundler', 'module', 'lowest', BUNDLER)).compiled);
    },
    SLOW,
  );

  test.concurrent(
    'moduleResolution node10 type-checks',
    async () => {
      expectCompiled((await compileApp(pkg, 'lowest-node10', 'commonjs', 'lowest', NODE10)).compiled);
    },
    SLOW,
  );
});
