/**
 * Cross-origin use in real Chromium: the page is served from one origin and the tRPC API from
 * another (two loopback ports), behind Express's `cors` middleware, with an `authorization`
 * header, in both wire modes.
 *
 * - With the allow-list built from `CORS_REQUEST_HEADERS`, a dropped stream resumes: the resume
 *   request (`Last-Event-ID`, and in multiplexed mode `trpc-sse-connection`/`-secret`) passes
 *   its preflight, and the tracked ids arrive contiguous, nothing lost and nothing twice.
 * - With the allow-list a typical API has (`content-type, authorization`), the first
 *   connection works but the resume is blocked by the browser before it leaves: the client's
 *   `onError` is told it is CORS and which headers, and the reconnect loop keeps backing off
 *   (and resumes once the server allows the headers).
 *
 * The API answers preflights with `Access-Control-Max-Age: 0`, so Chromium caches none and
 * every request that needs one shows its preflight to the server, where the test counts them.
 */
import cors from 'cors';
import express, { type RequestHandler } from 'express';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createSSEMiddleware, type SSEMiddleware } from '../../src/adapters/express.js';
import { CORS_METHODS, CORS_REQUEST_HEADERS } from '../../src/server/index.js';
import { bundlePage, launchChromium, untilChange } from '../helpers/browser.js';
import { createTestRouter, type Probe, type TestContext } from '../helpers/router.js';
import type { RetryRecord } from './fixtures/corsPage.js';

type Mode = 'multiplexed' | 'distinct';
type Policy = 'full' | 'narrow';

/** The page's subscriptions (corsPage.ts opens this many). */
const SUBSCRIPTIONS = 2;
/** Headers a resume adds, by mode (PROTOCOL.md): what a narrow allow-list blocks. */
const RESUME_HEADERS: Record<Mode, readonly string[]> = {
  distinct: ['last-event-id'],
  multiplexed: ['last-event-id', 'trpc-sse-connection', 'trpc-sse-secret'],
};
/** Failed preflights each reconnect loop must go through before the server is fixed. */
const BLOCKED_ATTEMPTS = 3;
const PAGE_TIMEOUT = 20_000;

/** One request the API saw, before CORS handling. */
interface Seen {
  method: string;
  /** The allow-list in force when it was answered. */
  policy: Policy;
  /** Preflights: `Access-Control-Request-Method` and `-Headers` (lower case, split). */
  requestMethod: string | null;
  requestHeaders: string[];
  lastEventId: string | null;
  connection: string | null;
}

interface Api {
  /** The tRPC endpoint, absolute. */
  url: string;
  trpc: SSEMiddleware;
  feed: EventEmitter;
  probe: Probe;
  seen: Seen[];
  /** Every createContext call: what crossed the origin boundary. */
  contexts: Array<{ authorization: string | null; connectionParams: unknown }>;
  policy: Policy;
  close(): Promise<void>;
}

/** Fires whenever something the API saw may have changed. */
const changes = new EventEmitter();
changes.setMaxListeners(0);
const servers: Server[] = [];
let pageOrigin: string;
let browser: Browser;

/** Resolves once `predicate` holds (checked on every change); fails after `timeoutMs`. */
function until(what: string, predicate: () => boolean, timeoutMs = PAGE_TIMEOUT): Promise<void> {
  return untilChange(changes, what, predicate, timeoutMs);
}

async function listen(app: express.Express): Promise<{ server: Server; origin: string }> {
  const server = createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  const script = await bundlePage(new URL('./fixtures/corsPage.ts', import.meta.url));
  const app = express();
  app.get('/', (_req, res) =>
    res
      .type('html')
      .send('<!doctype html><meta charset="utf-8"><title>cors</title><script type="module" src="/page.js"></script>'),
  );
  app.get('/page.js', (_req, res) => res.type('text/javascript').send(script));
  app.get('/favicon.ico', (_req, res) => res.status(204).end());
  pageOrigin = (await listen(app)).origin;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** The API on its own origin: the test router behind `cors`, mounted at /trpc (all children forwarded). */
async function startApi(): Promise<Api> {
  const { router, feed, probe } = createTestRouter();
  probe.on('started', () => changes.emit('change'));
  probe.on('finished', () => changes.emit('change'));
  const seen: Seen[] = [];
  const contexts: Api['contexts'] = [];
  const trpc = createSSEMiddleware({
    router,
    createContext: ({ req, info }): TestContext => {
      const authorization = req.headers.authorization ?? null;
      contexts.push({ authorization, connectionParams: info.connectionParams });
      return {
        user: authorization?.startsWith('Bearer ') ? authorization.slice(7) : null,
        connectionParams: (info.connectionParams as Record<string, string> | null) ?? null,
      };
    },
  });
  // What an application writes: the client's headers plus its own, the client's methods.
  // (maxAge: 0 only so that the test sees every preflight; see the top of the file.)
  const full = cors({
    origin: pageOrigin,
    allowedHeaders: [...CORS_REQUEST_HEADERS, 'authorization'],
    methods: [...CORS_METHODS],
    maxAge: 0,
  });
  // The allow-list of an API that knows nothing of trpc-sse.
  const narrow = cors({
    origin: pageOrigin,
    allowedHeaders: ['content-type', 'authorization'],
    methods: [...CORS_METHODS],
    maxAge: 0,
  });
  const api: Api = {
    url: '',
    trpc,
    feed,
    probe,
    seen,
    contexts,
    policy: 'full',
    close: async () => {
      trpc.core.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      servers.splice(servers.indexOf(server), 1);
    },
  };
  const record: RequestHandler = (req, _res, next) => {
    const header = (name: string): string | null => {
      const value = req.headers[name];
      return typeof value === 'string' ? value : null;
    };
    seen.push({
      method: req.method,
      policy: api.policy,
      requestMethod: header('access-control-request-method'),
      requestHeaders: (header('access-control-request-headers') ?? '')
        .split(',')
        .map((name) => name.trim().toLowerCase())
        .filter(Boolean),
      lastEventId: header('last-event-id'),
      connection: header('trpc-sse-connection'),
    });
    changes.emit('change');
    next();
  };
  const app = express();
  app.use('/trpc', record);
  app.use('/trpc', (req, res, next) => (api.policy === 'full' ? full : narrow)(req, res, next));
  app.use('/trpc', trpc);
  const { server, origin } = await listen(app);
  api.url = `${origin}/trpc`;
  return api;
}

/** A fresh browser context on the page, talking to `api`. */
async function openPage(
  api: Api,
  mode: Mode,
  opts: { connectionParams: boolean; minDelayMs: number; maxDelayMs: number },
): Promise<{ context: BrowserContext; page: Page; pageErrors: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  const query = new URLSearchParams({
    api: api.url,
    mode,
    minDelayMs: String(opts.minDelayMs),
    maxDelayMs: String(opts.maxDelayMs),
    params: opts.connectionParams ? '1' : '0',
  });
  await page.goto(`${pageOrigin}/?${query.toString()}`);
  await page.waitForFunction(() => 'corsHarness' in window);
  expect(await page.evaluate(() => window.corsHarness.ids.length)).toBe(SUBSCRIPTIONS);
  return { context, page, pageErrors };
}

const append = (api: Api, from: number, to: number): void => {
  for (let i = from; i < to; i++) api.feed.emit('append', `entry ${i}`);
};

const readHarness = (page: Page) =>
  page.evaluate(() => {
    const h = window.corsHarness;
    return {
      mode: h.mode,
      ids: h.ids,
      started: h.started,
      subscriptionErrors: h.subscriptionErrors,
      clientErrors: h.clientErrors,
      retries: h.retries,
    };
  });

/** Waits until every subscription on the page has received `count` events; on timeout, says what the page saw. */
async function received(page: Page, count: number): Promise<void> {
  try {
    await page.waitForFunction((n) => window.corsHarness.ids.every((ids) => ids.length >= n), count, {
      timeout: PAGE_TIMEOUT,
    });
  } catch (cause) {
    const state = await readHarness(page).catch(() => null);
    throw new Error(`timed out waiting for ${count} events per subscription; the page saw ${JSON.stringify(state)}`, {
      cause,
    });
  }
}

const range = (to: number): string[] => Array.from({ length: to }, (_, i) => String(i));
const requests = (headers: string[], needed: readonly string[]): boolean =>
  needed.every((name) => headers.includes(name));

/** Retry records by reconnect loop, each in the order the client made them. */
function byLoop(retries: RetryRecord[]): Map<string, RetryRecord[]> {
  const loops = new Map<string, RetryRecord[]>();
  for (const record of retries) loops.set(record.loop, [...(loops.get(record.loop) ?? []), record]);
  return loops;
}

for (const mode of ['multiplexed', 'distinct'] as const) {
  /** Reconnect loops: one for the multiplexed connection, one per subscription in distinct mode. */
  const loops = mode === 'multiplexed' ? 1 : SUBSCRIPTIONS;

  test(
    `${mode}: with CORS_REQUEST_HEADERS allowed, a dropped stream resumes across origins, nothing lost or repeated`,
    { timeout: 60_000 },
    async () => {
      const api = await startApi();
      const { context, page, pageErrors } = await openPage(api, mode, {
        connectionParams: true,
        minDelayMs: 100,
        maxDelayMs: 1_000,
      });
      try {
        append(api, 0, 3);
        await received(page, 3);
        const startedBeforeCut = api.probe.started;

        const cut = api.seen.length;
        api.trpc.core.closeAllStreams();
        // Appended while no stream is open: only a resume delivers these.
        append(api, 3, 6);
        await received(page, 6);
        append(api, 6, 8);
        await received(page, 8);

        const state = await readHarness(page);
        expect(state.mode).toBe(mode);
        expect(state.ids).toEqual(new Array(SUBSCRIPTIONS).fill(range(8)));
        expect(state.subscriptionErrors).toEqual([]);
        expect(pageErrors).toEqual([]);

        const afterCut = api.seen.slice(cut);
        // Each reconnect loop came back once, with its resume headers...
        const resumes = afterCut.filter((r) => r.method === 'GET' && r.lastEventId !== null);
        expect(resumes).toHaveLength(loops);
        if (mode === 'distinct') {
          expect(resumes.map((r) => r.lastEventId)).toEqual(new Array(SUBSCRIPTIONS).fill('2'));
          // A new procedure per subscription, from after the last id delivered.
          expect(api.probe.started).toBe(startedBeforeCut + SUBSCRIPTIONS);
          expect(api.probe.lastInputs.slice(-SUBSCRIPTIONS)).toEqual(
            new Array(SUBSCRIPTIONS).fill({ lastEventId: '2' }),
          );
        } else {
          expect(resumes[0]!.connection).not.toBeNull();
          expect(resumes[0]!.lastEventId).toMatch(/^\d+$/);
          // The connection resumed: the procedures ran on, the server replayed what was missed.
          expect(api.probe.started).toBe(startedBeforeCut);
        }
        // ...after a preflight that asked for them and passed.
        const resumePreflights = afterCut.filter(
          (r) =>
            r.method === 'OPTIONS' &&
            r.requestMethod === 'GET' &&
            requests(r.requestHeaders, [...RESUME_HEADERS[mode], 'authorization']),
        );
        expect(resumePreflights).toHaveLength(loops);
        expect(afterCut.findIndex((r) => r.method === 'OPTIONS')).toBeLessThan(
          afterCut.findIndex((r) => r.method === 'GET'),
        );

        // The application's header and the connection params crossed on every request that made a context.
        expect(api.contexts.length).toBeGreaterThan(0);
        for (const seen of api.contexts) {
          expect(seen.authorization).toBe('Bearer alice');
          expect(seen.connectionParams).toEqual({ room: 'lobby' });
        }

        // Ending a subscription: in multiplexed mode a control POST, which needs its own preflight.
        await until('two live journal procedures', () => api.probe.started - api.probe.finished === SUBSCRIPTIONS);
        const beforeUnsubscribe = api.seen.length;
        await page.evaluate(() => window.corsHarness.unsubscribe(1));
        await until('one subscription to end on the server', () => api.probe.started - api.probe.finished === 1);
        if (mode === 'multiplexed') {
          const control = api.seen.slice(beforeUnsubscribe);
          expect(
            control.filter(
              (r) =>
                r.method === 'OPTIONS' &&
                r.requestMethod === 'POST' &&
                requests(r.requestHeaders, ['content-type', 'trpc-sse-connection', 'trpc-sse-secret', 'authorization']),
            ),
          ).toHaveLength(1);
          expect(control.filter((r) => r.method === 'POST' && r.connection !== null)).toHaveLength(1);
        }
        expect(api.seen.filter((r) => r.method === 'OPTIONS').length).toBeGreaterThanOrEqual(loops + 1);
      } finally {
        await context.close();
        await api.close();
      }
    },
  );

  test(
    `${mode}: with only content-type and authorization allowed, the blocked resume is reported as CORS and retried with backoff`,
    { timeout: 60_000 },
    async () => {
      const MIN_DELAY_MS = 200;
      const api = await startApi();
      api.policy = 'narrow';
      const { context, page, pageErrors } = await openPage(api, mode, {
        connectionParams: false,
        minDelayMs: MIN_DELAY_MS,
        maxDelayMs: 800,
      });
      try {
        // The first connection needs no trpc-sse header: it passes, and events flow.
        append(api, 0, 3);
        await received(page, 3);

        const cut = api.seen.length;
        api.trpc.core.closeAllStreams();
        append(api, 3, 6);
        // Every reconnect loop: the drop (attempt 1), then BLOCKED_ATTEMPTS blocked resumes.
        await page.waitForFunction(
          ({ loops, attempts }) => {
            const highest = new Map<string, number>();
            for (const r of window.corsHarness.retries)
              highest.set(r.loop, Math.max(highest.get(r.loop) ?? 0, r.attempt));
            return highest.size === loops && [...highest.values()].every((attempt) => attempt >= attempts);
          },
          { loops, attempts: 1 + BLOCKED_ATTEMPTS },
          { timeout: PAGE_TIMEOUT },
        );
        const blocked = await readHarness(page);
        // Nothing came through while blocked, and no subscription was given up on.
        expect(blocked.ids).toEqual(new Array(SUBSCRIPTIONS).fill(range(3)));
        expect(blocked.subscriptionErrors).toEqual([]);

        // The server is fixed: the next attempt of each loop passes and resumes.
        api.policy = 'full';
        await received(page, 6);
        append(api, 6, 8);
        await received(page, 8);

        const state = await readHarness(page);
        expect(state.ids).toEqual(new Array(SUBSCRIPTIONS).fill(range(8)));
        expect(state.subscriptionErrors).toEqual([]);
        expect(pageErrors).toEqual([]);

        const retryLoops = byLoop(state.retries);
        expect(retryLoops.size).toBe(loops);
        let corsFailures = 0;
        for (const records of retryLoops.values()) {
          // The failure count only grew (it sizes the backoff) until the resume passed...
          expect(records.map((r) => r.attempt)).toEqual(records.map((_, i) => i + 1));
          expect(records.length).toBeGreaterThanOrEqual(1 + BLOCKED_ATTEMPTS);
          // ...each retry waited at least the floor, by the client's own clock (timers may
          // round by up to a millisecond).
          for (let i = 1; i < records.length; i++) {
            expect(records[i]!.at - records[i - 1]!.at).toBeGreaterThanOrEqual(MIN_DELAY_MS - 1);
          }
          // The drop itself is an ordinary transport failure; every later one is the blocked resume.
          expect(records[0]!.message).not.toMatch(/CORS/);
          for (const record of records.slice(1)) {
            expect(record.message).toMatch(/the browser blocked a cross-origin request \(CORS\)/);
            expect(record.message).toContain(`must allow origin ${pageOrigin}, method GET`);
            // It names the headers the request carried that need allowing: the application's and the resume's.
            const named = /the request headers (.+?) \(see CORS_REQUEST_HEADERS/.exec(record.message)?.[1]?.split(', ');
            expect(named?.sort()).toEqual(['authorization', ...RESUME_HEADERS[mode]].sort());
          }
          corsFailures += records.length - 1;
        }
        // onError saw each one too.
        expect(state.clientErrors.filter((message) => message.includes('CORS'))).toHaveLength(corsFailures);

        const afterCut = api.seen.slice(cut);
        // One preflight per blocked attempt, asking for the resume headers and refused...
        const refused = afterCut.filter((r) => r.method === 'OPTIONS' && r.policy === 'narrow');
        expect(refused).toHaveLength(corsFailures);
        for (const preflight of refused) expect(requests(preflight.requestHeaders, RESUME_HEADERS[mode])).toBe(true);
        // ...and the request itself never left the browser while refused; once allowed, one resume per loop.
        expect(afterCut.filter((r) => r.method !== 'OPTIONS' && r.policy === 'narrow')).toEqual([]);
        expect(afterCut.filter((r) => r.method === 'GET' && r.lastEventId !== null)).toHaveLength(loops);
      } finally {
        await context.close();
        await api.close();
      }
    },
  );
}
