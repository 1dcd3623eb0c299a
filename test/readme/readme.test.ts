/**
 * README.md is a tested document: every TypeScript block compiles as a reader's app would
 * compile it, and the blocks that make a server, a client, a route file or a shutdown run.
 *
 * Type-checking. Each block tagged `ts`, `tsx` or `typescript` (not `sh`, `js`, `diff`, …)
 * becomes a module of a scratch app (a temporary directory), beside the app files in
 * fixtures/ that blocks import as a reader's own code:
 *   - `./router.js`: `appRouter` (a query `greeting`, a mutation `send`, a tracked
 *     subscription `onMessage({ room, lastEventId? })`), `type AppRouter`, `createContext`
 *     (for Express and node:http) and `type Context`;
 *   - `./messages.js`: `messagesSince(room, lastEventId, signal)`, `postMessage`;
 *   - `./auth.js`: `getToken()`.
 * `trpc-sse` is installed in the app's node_modules (a link to this repository), so
 * `trpc-sse/*` resolves through package.json `exports` to dist/ (the suite builds it first).
 * The app is checked twice by the project's tsc, with Node's ESM resolution (`nodenext`, an
 * app with `"type": "module"`) and with a bundler's (`bundler`: Vite, Next.js), both with
 * every strict option a user may set (`strict`, `noUncheckedIndexedAccess`,
 * `exactOptionalPropertyTypes`, `noPropertyAccessFromIndexSignature`, `verbatimModuleSyntax`,
 * …). Relative imports therefore carry `.js`. A third program imports every entry of the
 * package with `skipLibCheck: false`, so our declarations are checked rather than trusted
 * (for the blocks, which are source, that option changes nothing; checking every library's
 * declarations with each mode would triple the time). A failing block fails its test with
 * README.md's line and column, the tsc diagnostic and the line itself.
 *
 * Conventions for blocks:
 *   - A block whose first line is a path comment (`// app/api/trpc/[trpc]/route.ts`,
 *     `// log.ts`) is written at that path, so other blocks import it (`./log.js`). Next.js's
 *     alias `@/*` points at the app's root (`@/router` is the router above).
 *   - `<!-- readme-test: WORDS -->` on the line above a fence (blank lines may separate them):
 *       `bundler` / `nodenext`  checked with that resolution only (a Next.js route file:
 *                               `bundler`; extensionless imports do not resolve in `nodenext`);
 *       `cjs`                   a CommonJS module (`.cts`), checked with `nodenext`;
 *       `fragment`              statements, not a module: wrapped in an async function, with
 *                               the names of fixtures/fragment.ts (`t`, `z`, `tracked`, `url`,
 *                               `appRouter`, …) in scope;
 *       `fragment router`       entries of a router object (`onMessage: t.procedure…,`),
 *                               wrapped in `t.router({ … })`.
 *     Prefer complete blocks: a reader copies them. An unknown word fails the suite.
 *
 * Running. The first Express block, the first node:http block (`trpc-sse/node`) and the first
 * with a Redis `connectionDirectory` (on a real redis-server) are run as `tsx block.ts`, each
 * moved from its port 3000 to an ephemeral loopback port; against each,
 * the README's curl line (with fetch where curl is missing) shows a message sent meanwhile,
 * and in Chromium the client block (bundled, on a page of the server's origin, its relative
 * `/trpc` URL as written) receives one and the EventSource line logs one. The route file
 * (`trpc-sse/fetch`) is called as a fetch runtime calls it; the graceful-shutdown block exits
 * 0 on SIGTERM with a stream open. README_TEST_KEEP=1 keeps the scratch app and prints where.
 */
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchChromium } from '../helpers/browser.js';
import { startRedisServer } from '../helpers/redisServer.js';
import { extractBlocks, type CodeBlock } from './markdown.js';
import {
  hasProgram,
  Output,
  parseCurl,
  pipeBody,
  runScript,
  runServerBlock,
  runShell,
  type RunningServer,
} from './run.js';
import {
  CHECKS,
  exportTarget,
  formatDiagnostic,
  IMPORT_CONDITIONS,
  MODES,
  packageEntries,
  planModules,
  REPO_ROOT,
  typecheck,
  writeProject,
  type BlockModule,
  type Check,
  type CheckResult,
  type Diagnostic,
  type Mode,
} from './scratch.js';

const README = 'README.md';
const readmeBlocks = extractBlocks(readFileSync(join(REPO_ROOT, README), 'utf8'));
const readmeModules = planModules(readmeBlocks, '.');

/**
 * The harness's own check: a document with blocks that must fail (and where), a fragment of
 * each kind, an indented fence, a path comment and blocks that are not TypeScript.
 */
const SELFTEST = 'selftest.md';
const SELFTEST_MD = [
  '# Self-test', // 1
  '', // 2
  '```ts', // 3
  "import { appRouter } from './router.js';", // 4
  'export const wrong: number = appRouter;', // 5: TS2322
  '```', // 6
  '', // 7
  '- In a list:', // 8
  '', // 9
  '  <!-- readme-test: fragment router -->', // 10
  '  ```ts', // 11
  "  ping: t.procedure.query(() => 'pong'),", // 12
  '  broken: t.procedure.query(() => missingName),', // 13: TS2304, column 35 of the document
  '  ```', // 14
  '', // 15
  '<!-- readme-test: fragment -->', // 16
  '', // 17
  '```typescript', // 18
  'const caller = appRouter.createCaller({ user: null });', // 19
  "const greeting: string = await caller.greeting({ name: 'x' });", // 20
  'console.log(greeting, url, z.string(), tracked);', // 21
  '```', // 22
  '', // 23
  '<!-- readme-test: bundler -->', // 24
  '```ts', // 25
  '// app/api/trpc/[trpc]/route.ts', // 26
  "import { appRouter } from '@/router';", // 27
  'export const router = appRouter;', // 28
  '```', // 29
  '', // 30
  '```sh', // 31
  'this is not TypeScript', // 32
  '```', // 33
  '', // 34
  '```diff', // 35
  '- neither is this', // 36
  '```', // 37
].join('\n');
const selftestModules = planModules(extractBlocks(SELFTEST_MD), 'selftest');

const keep = process.env['README_TEST_KEEP'] === '1';
let root = '';
let running: Promise<Record<Check, CheckResult>> | undefined;

/** Every check, once tsc has finished them. */
function checks(): Promise<Record<Check, CheckResult>> {
  return running ?? Promise.reject(new Error('the scratch app was not written'));
}

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'trpc-sse-readme-')));
  writeProject(root, [
    { dir: '.', modules: readmeModules },
    { dir: 'selftest', modules: selftestModules },
  ]);
  if (keep) console.log(`README scratch app: ${root}`);
  // The checks run while the blocks run; the tests that need them wait here.
  running = Promise.all(CHECKS.map((check) => typecheck(root, check))).then(
    (results) => Object.fromEntries(results.map((result) => [result.check, result])) as Record<Check, CheckResult>,
  );
  running.catch(() => undefined);
});

afterAll(async () => {
  // tsc reads the scratch app until it is done: remove the app after that.
  await running?.catch(() => undefined);
  if (!keep && root) rmSync(root, { recursive: true, force: true });
}, 180_000);

/** Every diagnostic of `module` under `mode`, as a reader of `document` needs it; '' when none. */
async function errorsOf(document: string, module: BlockModule, mode: Mode): Promise<string> {
  const result = (await checks())[mode];
  // A block tsc never read would pass unseen: each must be in the program it is checked by.
  if (!result.files.includes(join(root, module.file))) {
    throw new Error(
      `tsc (${mode}, exit code ${result.exitCode}) did not check ${module.file}:\n${result.output.slice(-4000)}`,
    );
  }
  return result.diagnostics
    .filter((diagnostic) => diagnostic.file === module.file)
    .map((diagnostic) => formatDiagnostic(document, module, mode, diagnostic))
    .join('\n\n');
}

/** The first README block that `predicate` picks, or a failure naming what is missing. */
function readmeModule(what: string, predicate: (code: string) => boolean): BlockModule {
  const module = readmeModules.find((m) => predicate(m.block.code));
  if (!module) throw new Error(`README.md has no ${what} block any more`);
  return module;
}

/** The first README block of any language that `predicate` picks (the curl and EventSource lines). */
function readmeBlock(what: string, predicate: (block: CodeBlock) => boolean): CodeBlock {
  const block = readmeBlocks.find(predicate);
  if (!block) throw new Error(`README.md has no ${what} any more`);
  return block;
}

/** The README's curl line, pointed at `origin` instead of the 127.0.0.1:3000 it names. */
function curlLine(origin: string): string {
  const block = readmeBlock(
    'curl line',
    (b) => ['sh', 'bash', 'shell', 'console'].includes(b.lang) && /^curl .*text\/event-stream/m.test(b.code),
  );
  const line = block.code.split('\n').find((l) => l.startsWith('curl ')) ?? '';
  expect(line, 'the curl line names http://127.0.0.1:3000').toContain('http://127.0.0.1:3000/');
  return line.replace('http://127.0.0.1:3000', origin);
}

/** Posts `text` to `room` through the server's tRPC endpoint (a plain tRPC mutation request). */
async function send(origin: string, room: string, text: string): Promise<{ id: string }> {
  const response = await fetch(`${origin}/trpc/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ room, text }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { result: { data: { id: string } } }).result.data;
}

/** The room the README's curl and EventSource lines watch. */
const ROOM = 'general';
/** A stream event: a tracked message of the room. */
const MESSAGE_EVENT = /^id: (\S+)\ndata: (\{.*\})$/m;

// Child processes and a browser on a machine that may be busy: a minute, not the default half.
describe('README.md blocks run', { timeout: 60_000 }, () => {
  let browser: Browser | undefined;
  let clientBundle = '';

  beforeAll(async () => {
    // The client block as an app's bundler would ship it, with a driver for its `trpc`.
    const client = readmeModule('client', (code) => code.includes('sseLink(') && code.includes('export const trpc'));
    const entry = [
      `import { trpc } from './${client.file}';`,
      `import { subscribeAndSend } from ${JSON.stringify(fileURLToPath(new URL('./drivers/browserCheck.ts', import.meta.url)))};`,
      'export const check = (room: string, text: string) => subscribeAndSend(trpc, room, text);',
    ].join('\n');
    const result = await build({
      stdin: { contents: entry, resolveDir: root, loader: 'ts', sourcefile: 'entry.ts' },
      bundle: true,
      platform: 'browser',
      format: 'iife',
      globalName: 'readme',
      write: false,
      logLevel: 'silent',
    });
    clientBundle = result.outputFiles[0]?.text ?? '';
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** A page of `origin` (served by the test, not the app) with the client bundle loaded. */
  async function openPage(origin: string) {
    if (!browser) throw new Error('Chromium did not start');
    const page = await browser.newPage();
    await page.route(`${origin}/readme-test/**`, (route) =>
      route.request().url().endsWith('.js')
        ? route.fulfill({ contentType: 'text/javascript', body: clientBundle })
        : route.fulfill({
            contentType: 'text/html',
            body: '<!doctype html><script src="/readme-test/client.js"></script>',
          }),
    );
    await page.goto(`${origin}/readme-test/`);
    return page;
  }

  /** What a server block needs around it: environment variables, and their cleanup. */
  type Surroundings = () => Promise<{ env: Record<string, string>; stop: () => Promise<void> }>;
  const nothing: Surroundings = async () => ({ env: {}, stop: async () => undefined });
  const redis: Surroundings = async () => {
    const server = await startRedisServer();
    return { env: { REDIS_URL: `redis://127.0.0.1:${server.port}` }, stop: () => server.kill() };
  };

  describe.each([
    ['Express', (code: string) => code.includes("from 'trpc-sse/express'"), nothing],
    ['node:http', (code: string) => code.includes("from 'trpc-sse/node'"), nothing],
    ['Redis', (code: string) => code.includes("from 'trpc-sse/node'") && code.includes('connectionDirectory'), redis],
  ] as const)('the %s server block', (name, predicate, surroundings) => {
    let server: RunningServer | undefined;
    let stopSurroundings: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const { env, stop } = await surroundings();
      stopSurroundings = stop;
      server = await runServerBlock(root, readmeModule(name, predicate).file, env);
    }, 60_000);

    afterAll(async () => {
      await server?.kill();
      await stopSurroundings?.();
    });

    const origin = (): string => {
      if (!server) throw new Error('the server block did not start');
      return server.origin;
    };

    test('the curl line shows a message as it is sent', async () => {
      const line = curlLine(origin());
      const text = `watched with curl (${name})`;
      let output: Output;
      let stop: () => Promise<void>;
      if (hasProgram('curl')) {
        const curl = runShell(line);
        output = curl.output;
        stop = curl.kill;
      } else {
        // The same request, where curl is not installed.
        const { url, headers } = parseCurl(line);
        const controller = new AbortController();
        output = new Output();
        void pipeBody(await fetch(url, { headers, signal: controller.signal }), output, controller.signal);
        stop = async () => controller.abort();
      }
      try {
        await output.until('the stream opens', (seen) => seen.includes('event: connected'));
        const sent = await send(origin(), ROOM, text);
        const seen = await output.until('the message', (all) => all.includes(text));
        const event = MESSAGE_EVENT.exec(seen.slice(seen.indexOf('event: connected')));
        expect(event?.[1], 'the event id is the tracked id').toBe(sent.id);
        expect(JSON.parse(event?.[2] ?? 'null')).toEqual({ id: sent.id, room: ROOM, text });
      } finally {
        await stop();
      }
    });

    test('the client block, in Chromium on a page of the server, receives a subscription', async () => {
      const page = await openPage(origin());
      try {
        const text = `through the client block (${name})`;
        const received = await page.evaluate(
          ([room, message]) =>
            (
              window as unknown as {
                readme: { check(room: string, text: string): Promise<{ id: string; text: string }> };
              }
            ).readme.check(room, message),
          [`browser-${name}`, text] as const,
        );
        expect(received.text).toBe(text);
        expect(received.id).toMatch(/^\S+$/);
      } finally {
        await page.close();
      }
    });

    test('the EventSource line logs a message', async () => {
      const block = readmeBlock(
        'EventSource line',
        (b) => ['js', 'javascript'].includes(b.lang) && b.code.includes('new EventSource('),
      );
      const page = await openPage(origin());
      try {
        const text = `watched with EventSource (${name})`;
        const logged = page.waitForEvent('console', {
          predicate: (message) => message.text().includes(text),
          timeout: 20_000,
        });
        await page.addScriptTag({ content: block.code });
        const sent = await send(origin(), ROOM, text);
        expect((await logged).text()).toBe(`${sent.id} ${JSON.stringify({ id: sent.id, room: ROOM, text })}`);
      } finally {
        await page.close();
      }
    });
  });

  test('the route file answers a fetch runtime: a stream, a mutation, a query', async () => {
    const route = readmeModule('fetch route file', (code) => code.includes("from 'trpc-sse/fetch'"));
    const endpoint = /endpoint: '([^']+)'/.exec(route.block.code)?.[1] ?? '';
    const driver = fileURLToPath(new URL('./drivers/fetchRoute.ts', import.meta.url));
    const { code, output } = await runScript(root, driver, [join(root, route.file), endpoint]);
    expect(code, output).toBe(0);
    const report = JSON.parse(output.trim().split('\n').at(-1) ?? '') as {
      stream: { status: number; contentType: string };
      sent: { status: number; body: { result: { data: { id: string } } } };
      event: { id: string; data: unknown } | null;
      greeting: unknown;
    };
    expect(report.stream).toEqual({ status: 200, contentType: 'text/event-stream' });
    expect(report.sent.status).toBe(200);
    const id = report.sent.body.result.data.id;
    expect(report.event).toEqual({ id, data: { id, room: 'route-file', text: 'through the route file' } });
    expect(report.greeting).toEqual({ result: { data: 'Hello, route' } });
  });

  test('the graceful-shutdown block drains an open stream and exits 0 on SIGTERM', { timeout: 60_000 }, async () => {
    const module = readmeModule('graceful shutdown', (code) => code.includes('installGracefulShutdown('));
    const server = await runServerBlock(root, module.file);
    const output = new Output();
    const controller = new AbortController();
    try {
      const url = `${server.origin}/trpc/onMessage?input=${encodeURIComponent(JSON.stringify({ room: ROOM }))}`;
      void pipeBody(
        await fetch(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal }),
        output,
        controller.signal,
      );
      await output.until('the stream opens', (seen) => seen.includes('event: connected'));
      server.child.kill('SIGTERM');
      expect(await server.exited, server.output.text).toBe(0);
      expect(await output.ended).toMatch(/^the stream (ended|failed)/);
    } finally {
      controller.abort();
      await server.kill();
    }
  });
});

const describeDiagnostic = (d: Diagnostic): string =>
  `${d.file ?? '(options)'}(${d.line},${d.column}): ${d.code} ${d.message}`;

const cases = readmeModules.flatMap((module) => module.modes.map((mode) => ({ module, mode })));

describe('README.md TypeScript blocks compile', () => {
  test('README.md has TypeScript blocks, each checked', () => {
    const typescript = readmeBlocks.filter((block) => ['ts', 'tsx', 'typescript'].includes(block.lang));
    expect(typescript.length).toBeGreaterThan(5);
    expect(readmeModules.map((module) => module.block)).toEqual(typescript);
  });

  test.each(cases.map((c) => [`${README}:${c.module.block.fenceLine} (${c.mode})`, c] as const))(
    '%s',
    { timeout: 180_000 },
    async (_name, { module, mode }) => {
      const errors = await errorsOf(README, module, mode);
      if (errors) throw new Error(`README block does not compile:\n${errors}`);
    },
  );

  test('the app fixtures and the options compile', { timeout: 180_000 }, async () => {
    const results = await checks();
    const blocks = new Set([...readmeModules, ...selftestModules].map((module) => module.file));
    for (const mode of MODES) {
      const others = results[mode].diagnostics.filter((d) => d.file === null || !blocks.has(d.file));
      expect(others.map(describeDiagnostic), mode).toEqual([]);
    }
  });

  test(
    'every trpc-sse entry resolves to dist and its declarations compile with skipLibCheck: false',
    { timeout: 180_000 },
    async () => {
      const { declarations } = await checks();
      for (const { subpath, target } of packageEntries()) {
        const types = exportTarget(target, IMPORT_CONDITIONS);
        expect(types, `package.json exports ${subpath}`).toMatch(/^\.\/dist\/.*\.d\.[cm]?ts$/);
        expect(declarations.files, subpath).toContain(join(REPO_ROOT, types ?? ''));
      }
      // Other packages' declarations are theirs: @trpc/client 11.19 pulls in @trpc/server's
      // adapters/ws.d.mts, which does not compile against @types/ws 8.18 with nodenext.
      const dependencies = join(REPO_ROOT, 'node_modules') + sep;
      const ours = declarations.diagnostics.filter(
        (d) => d.file === null || !join(root, d.file).startsWith(dependencies),
      );
      expect(ours.map(describeDiagnostic)).toEqual([]);
    },
  );

  test(
    'the blocks import trpc-sse as an installed package: through its exports, to dist',
    { timeout: 180_000 },
    async () => {
      const results = await checks();
      const exports = new Map(packageEntries().map(({ subpath, target }) => [subpath, target]));
      for (const mode of MODES) {
        const files = results[mode].files;
        const imports = readmeModules
          .filter((module) => module.modes.includes(mode))
          .flatMap((module) =>
            [...module.text.matchAll(/(?:from |import\(|= require\()'trpc-sse(\/[\w-]+)'/g)].map((m) => ({
              subpath: `.${m[1] ?? ''}`,
              conditions: module.file.endsWith('.cts') ? ['types', 'require', 'node', 'default'] : IMPORT_CONDITIONS,
            })),
          );
        expect(imports.length, mode).toBeGreaterThan(0);
        for (const { subpath, conditions } of imports) {
          const types = exportTarget(exports.get(subpath), conditions);
          expect(types, `package.json exports ${subpath}`).toMatch(/^\.\/dist\/.*\.d\.[cm]?ts$/);
          expect(files, `${mode}: trpc-sse${subpath.slice(1)}`).toContain(join(REPO_ROOT, types ?? ''));
        }
        expect(
          files.filter((file) => file.startsWith(join(REPO_ROOT, 'src') + sep)),
          mode,
        ).toEqual([]);
      }
    },
  );
});

describe('the harness', () => {
  const selftest = (line: number): BlockModule => {
    const module = selftestModules.find((m) => m.block.fenceLine === line);
    if (!module) throw new Error(`no self-test block at line ${line}`);
    return module;
  };

  test('takes ts, tsx and typescript blocks only, honours path comments', () => {
    expect(selftestModules.map((module) => [module.block.fenceLine, module.file, module.modes])).toEqual([
      [3, 'selftest/readme-3.ts', ['nodenext', 'bundler']],
      [11, 'selftest/readme-11.ts', ['nodenext', 'bundler']],
      [18, 'selftest/readme-18.ts', ['nodenext', 'bundler']],
      [25, 'selftest/app/api/trpc/[trpc]/route.ts', ['bundler']],
    ]);
  });

  test('fails a broken block with its line in the document and the diagnostic', { timeout: 180_000 }, async () => {
    for (const mode of MODES) {
      expect(await errorsOf(SELFTEST, selftest(3), mode)).toMatch(
        /^selftest\.md:5:\d+ \(ts block at line 3, \w+\): error TS2322: Type .* is not assignable to type 'number'\.[^]*\| export const wrong/,
      );
      // Inside a list item, wrapped as router entries: the line and column are the document's.
      expect(await errorsOf(SELFTEST, selftest(11), mode)).toMatch(
        /^selftest\.md:13:35 \(ts block at line 11, \w+\): error TS2304: Cannot find name 'missingName'\./,
      );
    }
  });

  test('gives fragments their names and path-named files their imports', { timeout: 180_000 }, async () => {
    for (const mode of MODES) expect(await errorsOf(SELFTEST, selftest(18), mode)).toBe('');
    expect(await errorsOf(SELFTEST, selftest(25), 'bundler')).toBe('');
  });

  test('puts a block whose file is taken beside it, not over it', () => {
    const files = planModules(
      extractBlocks('```ts\n// router.ts\n```\n```ts\n// a/b.ts\n```\n```ts\n// a/b.ts\n```'),
      'x',
    );
    expect(files.map((module) => module.file)).toEqual(['x/readme-1/router.ts', 'x/a/b.ts', 'x/readme-7/a/b.ts']);
  });

  test('reads the curl line as curl would, for machines without curl', () => {
    const readme = parseCurl(curlLine('http://127.0.0.1:1234'));
    expect(readme.url).toMatch(/^http:\/\/127\.0\.0\.1:1234\/trpc\/\S+\?input=/);
    expect(readme.headers).toEqual({ Accept: 'text/event-stream' });
    expect(parseCurl(`curl -N --header "Last-Event-ID: 7" -H 'Accept: text/event-stream' http://h/x?a=1`)).toEqual({
      url: 'http://h/x?a=1',
      headers: { 'Last-Event-ID': '7', Accept: 'text/event-stream' },
    });
  });

  test('refuses what it cannot honour, naming the line', () => {
    const plan = (markdown: string): BlockModule[] => planModules(extractBlocks(markdown), 'x');
    expect(() => plan('<!-- readme-test: fragmnet -->\n```ts\nx\n```')).toThrow(
      /line 2: unknown readme-test directive "fragmnet"/,
    );
    expect(() => plan('```ts\n// ../a.ts\n```')).toThrow(/line 1: the path "\.\.\/a\.ts" leaves the project/);
    expect(() => plan('```ts\nunclosed')).toThrow(/line 1: the code fence is never closed/);
  });
});
