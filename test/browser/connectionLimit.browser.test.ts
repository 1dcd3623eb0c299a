/**
 * Why multiplexed mode exists (PROTOCOL.md §2; trpc issue #6659), in real Chromium over
 * HTTP/1.1, where a browser opens at most six connections per origin:
 *
 * - a page with 12 live subscriptions through our sseLink (multiplexed, the default) holds ONE
 *   stream and an ordinary `fetch('/ping')` to the same origin still goes through;
 * - the same page with tRPC's stock httpSubscriptionLink (native EventSource, one connection per
 *   subscription) fills all six connections, and `/ping` waits in the browser's queue until the
 *   subscriptions are closed.
 *
 * Both pages are served by one Express app (plain HTTP/1.1 on 127.0.0.1, port 0) with
 * `createSSEMiddleware({ router })` at /trpc, which speaks both our dialect and tRPC's.
 */
import { MUX_PATH } from '../../src/protocol.js';
import express from 'express';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createSSEMiddleware, type SSEMiddleware } from '../../src/adapters/express.js';
import { bundlePage, launchChromium, untilChange } from '../helpers/browser.js';
import { createTestRouter } from '../helpers/router.js';
import type { Harness } from './fixtures/connectionLimitPage.js';

const SUBSCRIPTIONS = 12;
/** Chromium's (and every major browser's) HTTP/1.1 connections per origin. */
const CONNECTIONS_PER_ORIGIN = 6;

/** What the server saw during one test. */
interface Stats {
  /** Stream GETs (Accept: text/event-stream) under /trpc, with their paths. */
  streamPaths: string[];
  /** Stream requests open right now, and the most open at once. */
  open: number;
  maxOpen: number;
  /** Every `/ping` served: how many streams and live feed listeners there were at the time. */
  pings: Array<{ openStreams: number; liveSubscriptions: number }>;
}

const freshStats = (): Stats => ({ streamPaths: [], open: 0, maxOpen: 0, pings: [] });

const { router, feed } = createTestRouter();
/** Fires whenever anything in `stats` or the feed's listener count may have changed. */
const changes = new EventEmitter();
changes.setMaxListeners(0);
let stats = freshStats();
let trpc: SSEMiddleware;
let server: Server;
let origin: string;
let browser: Browser;

const liveSubscriptions = (): number => feed.listenerCount('item');
// `live` adds its listener synchronously after 'newListener' fires: look once it is there.
feed.on('newListener', () => setImmediate(() => changes.emit('change')));
feed.on('removeListener', () => changes.emit('change'));

/** Resolves once `predicate` holds (checked on every change); fails after `timeoutMs`. */
function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  return untilChange(
    changes,
    what,
    predicate,
    timeoutMs,
    () => `server saw ${JSON.stringify(stats)}, live=${liveSubscriptions()}`,
  );
}

beforeAll(async () => {
  const script = await bundlePage(new URL('./fixtures/connectionLimitPage.ts', import.meta.url));

  trpc = createSSEMiddleware({ router });
  const app = express();
  app.get('/', (_req, res) =>
    res
      .type('html')
      .send(
        '<!doctype html><meta charset="utf-8"><title>connection limit</title><script type="module" src="/page.js"></script>',
      ),
  );
  app.get('/page.js', (_req, res) => res.type('text/javascript').send(script));
  // No favicon request left hanging in the browser's connection queue.
  app.get('/favicon.ico', (_req, res) => res.status(204).end());
  app.get('/ping', (_req, res) => {
    stats.pings.push({ openStreams: stats.open, liveSubscriptions: liveSubscriptions() });
    changes.emit('change');
    res.set('cache-control', 'no-store').type('text/plain').send('pong');
  });
  // Counts stream requests before tRPC sees them: the multiplexed stream (GET /trpc) and
  // tRPC-dialect streams (GET /trpc/live?input=…) both ask for text/event-stream.
  app.use('/trpc', (req, res, next) => {
    if (req.method === 'GET' && (req.headers.accept ?? '').includes('text/event-stream')) {
      const current = stats;
      current.streamPaths.push(req.path);
      current.open++;
      current.maxOpen = Math.max(current.maxOpen, current.open);
      res.on('close', () => {
        current.open--;
        changes.emit('change');
      });
      changes.emit('change');
    }
    next();
  });
  app.use('/trpc', trpc);
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  trpc?.core.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

/** A fresh browser context (its own connection pool) on the page with `?link=…`. */
async function openPage(link: 'sse' | 'stock'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/?link=${link}`);
  await page.waitForFunction(() => 'harness' in window);
  return { context, page };
}

const harness = (page: Page): Promise<Omit<Harness, 'mode' | 'startPing' | 'closeAll' | 'ping'> & { mode: string }> =>
  page.evaluate(() => {
    const h = window.harness;
    return {
      link: h.link,
      mode: h.mode(),
      started: h.started,
      received: h.received,
      errors: h.errors,
      pingState: h.pingState,
    };
  });

test('sseLink (multiplexed): 12 live subscriptions on one stream, and fetch("/ping") still goes through', async () => {
  stats = freshStats();
  const { context, page } = await openPage('sse');
  try {
    // Every subscription's procedure is running on the server...
    await until('12 live subscriptions', () => liveSubscriptions() === SUBSCRIPTIONS);
    // ...so one item reaches all of them.
    feed.emit('item', { id: '1', text: 'to every subscription' });
    await page.waitForFunction(
      (n) => window.harness.received.filter((count) => count >= 1).length === n,
      SUBSCRIPTIONS,
      {
        timeout: 10_000,
      },
    );

    // An ordinary request to the same origin while all 12 are live.
    const pong = await page.evaluate(() =>
      fetch('/ping', { cache: 'no-store', signal: AbortSignal.timeout(5_000) }).then((response) => response.text()),
    );
    expect(pong).toBe('pong');

    const state = await harness(page);
    expect(state.mode).toBe('multiplexed');
    expect(state.errors).toEqual([]);
    expect(state.received.every((count) => count >= 1)).toBe(true);
    // ONE stream GET carried all 12, at {endpoint}/trpc-sse (PROTOCOL.md §2.1).
    expect(stats.streamPaths).toEqual([`/${MUX_PATH}`]);
    expect(stats.maxOpen).toBe(1);
    // /ping was served while the stream and all 12 subscriptions were live.
    expect(stats.pings).toEqual([{ openStreams: 1, liveSubscriptions: SUBSCRIPTIONS }]);

    await page.evaluate(() => window.harness.closeAll());
    await until('the subscriptions to end on the server', () => liveSubscriptions() === 0);
  } finally {
    await context.close();
  }
});

test('stock httpSubscriptionLink: 12 subscriptions take all 6 connections and fetch("/ping") waits until they close', async () => {
  stats = freshStats();
  await until('no live subscriptions left over', () => liveSubscriptions() === 0);
  const { context, page } = await openPage('stock');
  try {
    await until('6 open streams', () => stats.open === CONNECTIONS_PER_ORIGIN);
    await page.evaluate(() => window.harness.startPing());

    // The one place a bounded wait stands for "did not happen": the browser has the /ping
    // request but no connection to send it on, so the server must not see it. 500 ms is far
    // more than a request on a free loopback connection takes.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(stats.pings).toEqual([]);
    const held = await harness(page);
    expect(held.mode).toBe('stock');
    expect(held.pingState).toBe('pending');
    expect(held.errors).toEqual([]);
    // Six subscriptions got a connection and started; the other six wait in the queue too.
    expect(held.started.filter((count) => count === 1)).toHaveLength(CONNECTIONS_PER_ORIGIN);
    expect(stats.streamPaths).toEqual(new Array<string>(CONNECTIONS_PER_ORIGIN).fill('/live'));
    expect(stats.open).toBe(CONNECTIONS_PER_ORIGIN);
    expect(liveSubscriptions()).toBe(CONNECTIONS_PER_ORIGIN);

    // Closing the subscriptions frees the connections: the queued /ping was not lost.
    await page.evaluate(() => window.harness.closeAll());
    await until('/ping to arrive', () => stats.pings.length === 1);
    expect(await page.evaluate(() => window.harness.ping)).toBe('pong');
    expect(stats.maxOpen).toBeLessThanOrEqual(CONNECTIONS_PER_ORIGIN);
  } finally {
    await context.close();
  }
});
