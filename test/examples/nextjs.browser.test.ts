/**
 * The Next.js example (examples/nextjs), as it is deployed: the library installed from its
 * packed tarball, `next build`, `next start`, and the page in Chromium behind a loopback
 * proxy that can cut the network. What a person sees on the page, and what the server holds
 * (its `/api/stats` route reads the handler core's counts):
 * - server renders create a tRPC client each and leave nothing open;
 * - the page's two subscriptions share one multiplexed stream (no fallback to one stream per
 *   subscription), and a dropped connection resumes with nothing lost or repeated;
 * - the progress page (its own route, `/api/stream`): the bar reaches 100 %, and across a
 *   dropped connection its step list has every step once, in order;
 * - SIGTERM with the page open: `next start` exits.
 * The tests share one server and one page and run in order.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { MUX_PATH } from '../../src/protocol.js';
import { launchChromium } from '../helpers/browser.js';
import { startChaosProxy, type ChaosProxy } from '../helpers/chaosProxy.js';
import { buildNextApp, installNextApp, startNextApp, type NextAppProcess } from '../helpers/nextApp.js';

/** The app's ticker: a drop of a second spans ten events, and the page's list (its last 100) spans the drop. */
const TICK_INTERVAL_MS = 100;
/** The progress job's pace: its 50 steps take 5 s of streaming, so a drop after its first steps lands mid-job. */
const PROGRESS_STEP_MS = 100;
const PROGRESS_STEPS = 50;

let app: NextAppProcess;
let proxy: ChaosProxy;
let browser: Browser;
let page: Page;
/** Paths of the page's requests under /api/trpc, in order. */
const trpcRequests: string[] = [];

beforeAll(async () => {
  await installNextApp();
  await buildNextApp();
  app = await startNextApp({ TICK_INTERVAL_MS: String(TICK_INTERVAL_MS), PROGRESS_STEP_MS: String(PROGRESS_STEP_MS) });
  const upstream = app.port;
  proxy = await startChaosProxy(() => upstream);
  browser = await launchChromium();
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  if (app?.child.exitCode === null && app.child.signalCode === null) {
    app.child.kill('SIGKILL');
    await app.exited;
  }
});

/** The server's clock now (the `info` query, straight from the app). */
async function serverTick(): Promise<number> {
  const res = await fetch(`${app.url}/api/trpc/info`);
  const body = (await res.json()) as { result: { data: { tick: number } } };
  return body.result.data.tick;
}

/** The ticks the page lists, newest first: their number, and the sequence of their tracked id. */
async function listedTicks(): Promise<Array<{ n: number; seq: number }>> {
  const items = await page.$$eval('#ticks li', (lis) =>
    lis.map((li) => ({ n: li.getAttribute('data-n'), id: li.getAttribute('data-id') })),
  );
  return items.map(({ n, id }) => ({ n: Number(n), seq: Number(/-(\d+)$/.exec(id ?? '')?.[1]) }));
}

/** The run of whole numbers, one less each time, that `values` should be (the list is newest first). */
function contiguousFrom(values: number[]): number[] {
  return values.map((_, i) => values[0]! - i);
}

/** The steps the progress page lists, by the number each row starts with ("7/50 converting"). */
async function progressSteps(on: Page): Promise<number[]> {
  const texts = await on.$$eval('#progress-steps li', (items) => items.map((item) => item.textContent ?? ''));
  return texts.map((text) => Number(/^(\d+)\//.exec(text)?.[1]));
}

async function counter(id: string): Promise<number> {
  return Number(await page.textContent(`#${id}`));
}

test('server renders create a client and open nothing: 15 renders leave no stream and no connection', async () => {
  for (let i = 0; i < 15; i++) {
    const res = await fetch(`${app.url}/`);
    expect(res.status).toBe(200);
    // Rendered for this request, not served from a prerendered file...
    expect(res.headers.get('cache-control')).toContain('no-store');
    // ...with the provider (and so `useState(() => createTRPCClient(...))`) run on the server.
    expect(await res.text()).toContain('<b id="state">idle</b>');
  }
  expect(await app.stats()).toEqual({ openStreams: 0, connections: 0, progressStreams: 0 });
  // A client that connected later than this would show in the next test's exact count.
});

test(
  'the page: live events, two subscriptions on one multiplexed stream, exact resume after a dropped connection',
  { timeout: 120_000 },
  async () => {
    page = await browser.newPage();
    page.on('request', (request) => {
      const { pathname } = new URL(request.url());
      if (pathname.startsWith('/api/trpc')) trpcRequests.push(`${request.method()} ${pathname}`);
    });
    await page.goto(`http://127.0.0.1:${proxy.port}/`);
    await page.waitForFunction(
      () =>
        Number(document.querySelector('#received')?.textContent) >= 5 &&
        document.querySelector('#messages-status')?.textContent === 'live',
    );
    expect(await page.textContent('#state')).toBe('connected');
    expect(await page.textContent('#mode')).toBe('multiplexed');

    // The second subscription is live too: a message posted (a mutation, same route) arrives.
    await page.fill('#text', 'hello from Chromium');
    await page.click('#post button');
    await page.waitForFunction(() => document.querySelector('#messages')?.textContent?.includes('hello from Chromium'));

    // One stream for the page (this page's server render opened none), whatever it subscribes to.
    expect(await app.stats()).toEqual({ openStreams: 1, connections: 1, progressStreams: 0 });
    expect(trpcRequests).toContain(`GET /api/trpc/${MUX_PATH}`);
    expect(trpcRequests.filter((request) => /\/(onTick|onMessage)$/.test(request))).toEqual([]);

    // The network drops: every connection through the proxy is cut, and new ones fail.
    proxy.blocked = true;
    proxy.cutAll();
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'connecting');
    await expect.poll(async () => (await app.stats()).openStreams, { timeout: 20_000 }).toBe(0);
    // The server goes on publishing while the page cannot hear it.
    const lastHeard = Math.max(...(await listedTicks()).map((tick) => tick.n));
    await expect.poll(serverTick, { timeout: 20_000 }).toBeGreaterThan(lastHeard + 10);
    const missedFrom = lastHeard + 1;

    proxy.blocked = false;
    const backAt = await serverTick();
    await page.waitForFunction(
      (n) =>
        Number(document.querySelector('#ticks li')?.getAttribute('data-n')) >= n &&
        document.querySelector('#state')?.textContent === 'connected',
      backAt + 5,
      { timeout: 60_000 },
    );

    // Nothing lost, nothing twice: counted over every event, and visible in the list, both in
    // the ticks' numbers and in their tracked ids.
    expect(await counter('missing')).toBe(0);
    expect(await counter('duplicates')).toBe(0);
    const listed = await listedTicks();
    const numbers = listed.map((tick) => tick.n);
    const sequences = listed.map((tick) => tick.seq);
    expect(numbers).toContain(missedFrom);
    expect(numbers).toEqual(contiguousFrom(numbers));
    expect(sequences.every(Number.isSafeInteger)).toBe(true);
    expect(sequences).toEqual(contiguousFrom(sequences));
    expect(await page.textContent('#mode')).toBe('multiplexed');
    await expect
      .poll(() => app.stats(), { timeout: 20_000 })
      .toEqual({ openStreams: 1, connections: 1, progressStreams: 0 });
  },
);

test(
  'the progress route: the bar reaches 100 %, and a dropped connection resumes at the next step, none skipped or repeated',
  { timeout: 120_000 },
  async () => {
    const progressPage = await browser.newPage();
    // Every request for the progress stream, with the id it resumed from.
    const streamRequests: Array<Promise<{ path: string; lastEventId: string | null }>> = [];
    progressPage.on('request', (request) => {
      const { pathname } = new URL(request.url());
      if (pathname.startsWith('/api/stream')) {
        streamRequests.push(
          request
            .headerValue('last-event-id')
            .then((lastEventId) => ({ path: `${request.method()} ${pathname}`, lastEventId })),
        );
      }
    });
    const percent = () => progressPage.textContent('#progress-percent');
    const state = () => progressPage.textContent('#progress-state');
    const listedSteps = () => progressSteps(progressPage);

    await progressPage.goto(`http://127.0.0.1:${proxy.port}/progress`);
    expect(await percent()).toBe('0 %');
    await progressPage.click('#progress-start');
    await progressPage.waitForFunction(() => document.querySelectorAll('#progress-steps li').length >= 3);
    expect(await state()).toBe('running');
    expect(await progressPage.isDisabled('#progress-start')).toBe(true);
    expect((await app.stats()).progressStreams).toBe(1);

    // The network drops mid-job: the page says it is reconnecting, and the server's stream ends.
    proxy.blocked = true;
    proxy.cutAll();
    await progressPage.waitForFunction(
      () => document.querySelector('#progress-state')?.textContent === 'reconnecting…',
    );
    await expect.poll(async () => (await app.stats()).progressStreams, { timeout: 20_000 }).toBe(0);
    const heard = await listedSteps();
    expect(heard).toEqual(heard.map((_, i) => i + 1));
    expect(heard.length).toBeLessThan(PROGRESS_STEPS);
    expect(await percent()).toBe(`${Math.round((heard.length / PROGRESS_STEPS) * 100)} %`);

    proxy.blocked = false;
    await progressPage.waitForFunction(
      () => document.querySelector('#progress-state')?.textContent === 'done',
      undefined,
      { timeout: 60_000 },
    );

    // What a person sees: a full bar, and every step once, in order, across the drop.
    expect(await percent()).toBe('100 %');
    expect(await progressPage.$eval('#progress-bar', (bar) => (bar as HTMLProgressElement).value)).toBe(100);
    expect(await listedSteps()).toEqual(Array.from({ length: PROGRESS_STEPS }, (_, i) => i + 1));
    expect(await progressPage.isDisabled('#progress-start')).toBe(false);

    // One stream per run, in tRPC's distinct dialect; every attempt after the drop asked to
    // resume after the last step the page had shown.
    const requests = await Promise.all(streamRequests);
    expect(new Set(requests.map((request) => request.path))).toEqual(new Set(['GET /api/stream/progress']));
    expect(requests[0]!.lastEventId).toBeNull();
    expect(requests.length).toBeGreaterThan(1);
    expect(requests.slice(1).map((request) => request.lastEventId)).toEqual(
      requests.slice(1).map(() => String(heard.at(-1))),
    );
    // The finished job holds no stream.
    await expect.poll(async () => (await app.stats()).progressStreams, { timeout: 20_000 }).toBe(0);
    await progressPage.close();

    // The live page lost its stream in the same drop; it is back before the next test.
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'connected', undefined, {
      timeout: 60_000,
    });
  },
);

test(
  'SIGTERM with the pages open and a job mid-stream: next start exits, and the job is left resumable',
  { timeout: 120_000 },
  async () => {
    expect(await page.textContent('#state')).toBe('connected');
    const progressPage = await browser.newPage();
    await progressPage.goto(`http://127.0.0.1:${proxy.port}/progress`);
    await progressPage.click('#progress-start');
    await progressPage.waitForFunction(() => document.querySelectorAll('#progress-steps li').length >= 1);
    expect((await app.stats()).progressStreams).toBe(1);

    app.child.kill('SIGTERM');
    const exit = await app.exited;
    // Next.js exits with 128 + 15 once its listener has closed.
    expect(exit).toEqual({ code: 143, signal: null });
    // The page lost its server and says so; nothing it had received was repeated on the way.
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'connecting');
    expect(await counter('missing')).toBe(0);
    expect(await counter('duplicates')).toBe(0);
    // The drain ended the job's stream too, rather than waiting for the job: its page is
    // reconnecting (to the next server), part way through, every step so far shown once.
    await progressPage.waitForFunction(() =>
      ['reconnecting…', 'done'].includes(document.querySelector('#progress-state')?.textContent ?? ''),
    );
    expect(await progressPage.textContent('#progress-state')).toBe('reconnecting…');
    const shown = await progressSteps(progressPage);
    expect(shown.length).toBeLessThan(PROGRESS_STEPS);
    expect(shown).toEqual(shown.map((_, i) => i + 1));
    await progressPage.close();
  },
);
