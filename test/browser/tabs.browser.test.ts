/**
 * `share: 'tabs'` in real Chromium: several pages of one browser context (one origin, so one
 * set of Web Locks and BroadcastChannels) against a real trpc-sse server on loopback.
 *
 * - 8 pages × 3 subscriptions: the server sees ONE stream and 24 subscriptions; every page
 *   gets every event.
 * - The leader page closed, and separately crashed (CDP), in the middle of 10,000 tracked
 *   events: every surviving page gets each of them exactly once, in order.
 * - Two scopes in one browser: two streams, no event crosses.
 * - Web Locks and BroadcastChannel removed: one stream per page, everything delivered.
 * - A back/forward-cache round trip of the leader, and a hidden leader handing over to a
 *   visible page.
 */
import { initTRPC } from '@trpc/server';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createSSEHandler } from '../../src/adapters/node.js';
import { MUX_PATH } from '../../src/protocol.js';
import { createMemoryEventLog } from '../../src/server/index.js';
import { bundlePage, launchChromium, untilChange } from '../helpers/browser.js';

const t = initTRPC.create();
const log = createMemoryEventLog({ maxEvents: 20_000 });
const changes = new EventEmitter();
changes.setMaxListeners(0);
/** Subscriptions running at the server, and multiplexed streams open. */
let activeSubscriptions = 0;
let openStreams = 0;
let streamsOpened = 0;

const router = t.router({
  feed: t.procedure
    .input(z.object({ topic: z.string(), lastEventId: z.string().nullish() }))
    .subscription(async function* ({ input, signal }) {
      activeSubscriptions++;
      changes.emit('change');
      try {
        yield* log.subscribe<{ text: string }>(input.topic, {
          lastEventId: input.lastEventId ?? null,
          signal: signal!,
        });
      } finally {
        activeSubscriptions--;
        changes.emit('change');
      }
    }),
});
export type TabsRouter = typeof router;

let server: Server;
let origin: string;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  const script = await bundlePage(new URL('./fixtures/tabsPage.ts', import.meta.url));
  const trpc = createSSEHandler({ router, basePath: '/trpc' });
  server = createServer((req, res) => {
    if (req.url === '/page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      return;
    }
    if (!req.url?.startsWith('/trpc')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><meta charset="utf-8"><title>tabs</title><script type="module" src="/page.js"></script>');
      return;
    }
    if (req.method === 'GET' && req.url.startsWith(`/trpc/${MUX_PATH}`)) {
      openStreams++;
      streamsOpened++;
      changes.emit('change');
      res.once('close', () => {
        openStreams--;
        changes.emit('change');
      });
    }
    void trpc(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterEach(async () => {
  await context?.close();
  await until('every subscription at the server to end', () => activeSubscriptions === 0 && openStreams === 0);
});

afterAll(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await log.close();
});

function until(what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  return untilChange(
    changes,
    what,
    predicate,
    timeoutMs,
    () => `server: ${activeSubscriptions} subscriptions, ${openStreams} streams`,
  );
}

/** Opens `count` pages of the shared context and waits for each page's harness. */
async function openPages(count: number, query = ''): Promise<Page[]> {
  const pages: Page[] = [];
  for (let i = 0; i < count; i++) {
    const page = await context.newPage();
    await page.goto(`${origin}/${query}`);
    await page.waitForFunction(() => window.tabs !== undefined);
    pages.push(page);
  }
  return pages;
}

const subscribe = (page: Page, topic: string): Promise<void> =>
  page.evaluate((name) => window.tabs.subscribe(name), topic);
const roleOf = (page: Page): Promise<string | null> => page.evaluate(() => window.tabs.role());
const idsOf = (page: Page, topic: string): Promise<string[]> =>
  page.evaluate((name) => window.tabs.ids[name] ?? [], topic);

/** The one page whose client leads (fails if there is not exactly one). */
async function leaderOf(pages: Page[]): Promise<Page> {
  const roles = await Promise.all(pages.map(roleOf));
  const leaders = pages.filter((_, i) => roles[i] === 'leader');
  expect(
    roles.filter((role) => role === 'leader'),
    `roles: ${roles.join(', ')}`,
  ).toHaveLength(1);
  return leaders[0]!;
}

/** Waits until `page` holds `count` ids for `topic` (polling in the page, not a fixed sleep). */
async function waitForCount(page: Page, topic: string, count: number, timeout = 60_000): Promise<void> {
  try {
    await page.waitForFunction(([name, n]) => (window.tabs.ids[name]?.length ?? 0) >= n, [topic, count] as const, {
      timeout,
      polling: 50,
    });
  } catch (error) {
    const seen = await page
      .evaluate(
        (name) => ({
          role: window.tabs.role(),
          count: window.tabs.ids[name]?.length,
          last: window.tabs.ids[name]?.slice(-3),
          errors: window.tabs.errors,
          state: window.tabs.connectionState(),
        }),
        topic,
      )
      .catch((cause: unknown) => String(cause));
    throw new Error(
      `${topic}: ${JSON.stringify(seen)}; server: ${activeSubscriptions} subscriptions, ${openStreams} streams`,
      { cause: error },
    );
  }
}

/** Publishes `count` events to `topic` in small batches, yielding to the event loop between them. */
async function publish(
  topic: string,
  count: number,
  onProgress?: (published: number) => Promise<void> | void,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push(await log.publish(topic, { text: `${topic}-${i}` }));
    if (i % 100 === 99) {
      await new Promise((resolve) => setImmediate(resolve));
      await onProgress?.(i + 1);
    }
  }
  return ids;
}

function expectExactlyOnce(received: string[], published: string[], label: string): void {
  expect(new Set(received).size, `${label}: duplicates`).toBe(received.length);
  expect(received, label).toEqual(published);
}

describe('tabs share one stream', () => {
  test(
    '8 pages with 3 subscriptions each: one stream, 24 subscriptions, every event everywhere',
    { timeout: 120_000 },
    async () => {
      context = await browser.newContext();
      const pages = await openPages(8);
      for (const page of pages) for (const topic of ['a', 'b', 'c']) await subscribe(page, topic);
      await until('24 subscriptions on one stream', () => activeSubscriptions === 24 && openStreams === 1);
      await leaderOf(pages);
      expect((await Promise.all(pages.map(roleOf))).filter((role) => role === 'follower')).toHaveLength(7);

      const published = { a: await publish('a', 100), b: await publish('b', 100), c: await publish('c', 100) };
      for (const page of pages) {
        for (const topic of ['a', 'b', 'c'] as const) {
          await waitForCount(page, topic, 100);
          expectExactlyOnce(await idsOf(page, topic), published[topic], topic);
        }
      }
      expect(openStreams).toBe(1);
      const states = await Promise.all(pages.map((page) => page.evaluate(() => window.tabs.connectionState())));
      expect(states).toEqual(Array(8).fill('pending'));
    },
  );

  for (const how of ['closed', 'crashed'] as const) {
    test(
      `the leader page ${how} mid-stream: 10,000 tracked events, each exactly once in every other page`,
      { timeout: 180_000 },
      async () => {
        context = await browser.newContext();
        const pages = await openPages(4);
        const topic = `handover-${how}`;
        for (const page of pages) await subscribe(page, topic);
        await until('4 subscriptions on one stream', () => activeSubscriptions === 4 && openStreams === 1);
        const leader = await leaderOf(pages);
        const survivors = pages.filter((page) => page !== leader);

        let goneAt = 0;
        let elected: Promise<number> | undefined;
        const published = await publish(topic, 10_000, async (count) => {
          if (count !== 3_000) return;
          goneAt = performance.now();
          if (how === 'closed') {
            await leader.close();
          } else {
            const cdp = await context.newCDPSession(leader);
            // A crashed page never answers: the command settles only when the context closes.
            void cdp.send('Page.crash').catch(() => undefined);
          }
          // How long until a survivor leads (measured, not asserted: the machine may be busy).
          elected = Promise.race(
            survivors.map((page) =>
              page.waitForFunction(() => window.tabs.role() === 'leader', null, { polling: 10, timeout: 60_000 }),
            ),
          ).then(() => performance.now() - goneAt);
        });
        for (const page of survivors) await waitForCount(page, topic, 10_000, 120_000);
        const newLeaderRoles = await Promise.all(survivors.map(roleOf));
        expect(newLeaderRoles.filter((role) => role === 'leader')).toHaveLength(1);
        for (const [i, page] of survivors.entries())
          expectExactlyOnce(await idsOf(page, topic), published, `page ${i}`);
        console.info(`[tabs] leader ${how}: a new leader after ${Math.round(await elected!)} ms`);
        expect(openStreams).toBe(1);
      },
    );
  }

  test(
    'a follower that unsubscribes, closes or crashes stops its subscriptions at the server',
    { timeout: 60_000 },
    async () => {
      context = await browser.newContext();
      const pages = await openPages(4);
      for (const page of pages) for (const topic of ['p', 'q']) await subscribe(page, topic);
      await until('8 subscriptions on one stream', () => activeSubscriptions === 8 && openStreams === 1);
      const leader = await leaderOf(pages);
      const [first, second, third] = pages.filter((page) => page !== leader);
      await first!.evaluate(() => window.tabs.unsubscribe('p'));
      await until('7 subscriptions', () => activeSubscriptions === 7);
      await first!.close();
      await until('6 subscriptions', () => activeSubscriptions === 6);
      const cdp = await context.newCDPSession(second!);
      void cdp.send('Page.crash').catch(() => undefined);
      await until('4 subscriptions', () => activeSubscriptions === 4);
      // The rest still receive, on the same stream.
      const published = await publish('q', 50);
      for (const page of [leader, third!]) {
        await waitForCount(page, 'q', 50);
        expectExactlyOnce(await idsOf(page, 'q'), published, 'q');
      }
      expect(openStreams).toBe(1);
      expect(streamsOpened).toBeGreaterThan(0);
    },
  );

  test('two scopes in one browser: two streams, and no event crosses', { timeout: 60_000 }, async () => {
    context = await browser.newContext();
    const alice = await openPages(2, '?scope=alice');
    const bob = await openPages(2, '?scope=bob');
    for (const page of alice) await subscribe(page, 'inbox-alice');
    for (const page of bob) await subscribe(page, 'inbox-bob');
    await until('4 subscriptions on two streams', () => activeSubscriptions === 4 && openStreams === 2);
    await leaderOf(alice);
    await leaderOf(bob);
    const published = { alice: await publish('inbox-alice', 30), bob: await publish('inbox-bob', 30) };
    for (const [user, pages] of [
      ['alice', alice],
      ['bob', bob],
    ] as const) {
      const other = user === 'alice' ? 'bob' : 'alice';
      for (const page of pages) {
        await waitForCount(page, `inbox-${user}`, 30);
        expectExactlyOnce(await idsOf(page, `inbox-${user}`), published[user], user);
        const values = await page.evaluate(() => Object.values(window.tabs.values).flat());
        expect(values.filter((text) => text.startsWith(`inbox-${other}`))).toEqual([]);
      }
    }
  });

  test(
    'without Web Locks and BroadcastChannel each page has its own stream, and gets everything',
    { timeout: 60_000 },
    async () => {
      context = await browser.newContext();
      await context.addInitScript(() => {
        Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true });
        Object.defineProperty(window, 'BroadcastChannel', { value: undefined, configurable: true });
      });
      const pages = await openPages(3);
      for (const page of pages) await subscribe(page, 'solo');
      await until('3 streams', () => activeSubscriptions === 3 && openStreams === 3);
      expect(await Promise.all(pages.map(roleOf))).toEqual(['unshared', 'unshared', 'unshared']);
      const published = await publish('solo', 40);
      for (const page of pages) {
        await waitForCount(page, 'solo', 40);
        expectExactlyOnce(await idsOf(page, 'solo'), published, 'solo');
      }
    },
  );

  test(
    'a leader that goes into the back/forward cache hands over, and rejoins as a follower when it comes back',
    { timeout: 90_000 },
    async () => {
      context = await browser.newContext();
      const pages = await openPages(3);
      for (const page of pages) await subscribe(page, 'bf');
      await until('3 subscriptions on one stream', () => activeSubscriptions === 3 && openStreams === 1);
      const leader = await leaderOf(pages);
      const others = pages.filter((page) => page !== leader);
      const first = await publish('bf', 100);
      await leader.evaluate(() => window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true })));
      // Another page leads; the one in the cache holds no lock and no subscription.
      await Promise.race(
        others.map((page) => page.waitForFunction(() => window.tabs.role() === 'leader', null, { polling: 10 })),
      );
      await until('2 subscriptions', () => activeSubscriptions === 2 && openStreams === 1);
      const second = await publish('bf', 100);
      await leader.evaluate(() => window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true })));
      await until('3 subscriptions again', () => activeSubscriptions === 3 && openStreams === 1);
      expect(await roleOf(leader)).toBe('follower');
      const third = await publish('bf', 100);
      const all = [...first, ...second, ...third];
      for (const page of pages) {
        await waitForCount(page, 'bf', 300);
        expectExactlyOnce(await idsOf(page, 'bf'), all, 'bf');
      }
      expect(await leader.evaluate(() => window.tabs.started['bf'])).toBe(1);
    },
  );

  test(
    'a hidden leader hands the stream to a visible page, and nothing is lost or repeated',
    { timeout: 90_000 },
    async () => {
      context = await browser.newContext();
      const pages = await openPages(3, '?hiddenMs=0');
      for (const page of pages) await subscribe(page, 'vis');
      await until('3 subscriptions on one stream', () => activeSubscriptions === 3 && openStreams === 1);
      const leader = await leaderOf(pages);
      const others = pages.filter((page) => page !== leader);
      let handedOver = false;
      const published = await publish('vis', 2_000, async (count) => {
        if (count !== 500) return;
        await leader.evaluate(() => {
          Object.defineProperty(document, 'visibilityState', { get: () => 'hidden', configurable: true });
          document.dispatchEvent(new Event('visibilitychange'));
        });
        await Promise.race(
          others.map((page) => page.waitForFunction(() => window.tabs.role() === 'leader', null, { polling: 10 })),
        );
        handedOver = true;
      });
      expect(handedOver).toBe(true);
      expect(await roleOf(leader)).toBe('follower');
      for (const page of pages) {
        await waitForCount(page, 'vis', 2_000);
        expectExactlyOnce(await idsOf(page, 'vis'), published, 'vis');
        expect(await page.evaluate(() => window.tabs.started['vis'])).toBe(1);
      }
      await until('one stream', () => openStreams === 1);
    },
  );
});
