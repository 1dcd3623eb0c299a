/**
 * The demo in Chromium: the four use cases on one page over one stream (the connection
 * panel says so, and the page made one stream request), no failed request (the favicon), a
 * narrow screen that cuts nothing, and a real restart of the server with the page open: the
 * page says the feed could not be resumed, reloads it, and shows the new server's events.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startDemo, type DemoServer } from '../../examples/demo/app.js';
import { launchChromium } from '../helpers/browser.js';
import { isContiguousDescending, listedNumbers, openExamplePage } from '../helpers/examplePage.js';

let demo: DemoServer;
let browser: Browser;
beforeAll(async () => {
  demo = await startDemo({ port: 0, feedIntervalMs: 100, stepMs: 50 });
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await demo?.close();
});

test(
  'four widgets, one stream: the panel counts them, the page made one stream request',
  { timeout: 90_000 },
  async () => {
    const page = await openExamplePage(browser, `${demo.url}?rate=1000`);
    await page.untilAtLeast('#feed-received', 5);
    await page.untilAtLeast('#log-lines', 2_000);
    await page.untilText('#connection-token', '1');
    // Feed, notifications (and the session), logs, the panel's own: five subscriptions at least.
    await page.untilAtLeast('#server-subscriptions', 5);
    // The server's own figures (core.stats()): the log stream alone writes over 1 KB a second.
    await page.untilAtLeast('#server-bytes', 1_000);
    expect(await page.text('#state')).toBe('connected');
    expect(await page.number('#server-streams')).toBe(1);
    expect(await page.number('#page-streams')).toBe(1);
    expect(page.streamRequests()).toBe(1);

    await page.page.click('#job-start');
    await page.untilText('#job-status', /: done$/);
    expect(await page.page.$eval('#job-bar', (bar) => (bar as HTMLProgressElement).value)).toBe(100);
    expect(page.streamRequests()).toBe(1);
    expect(page.problems).toEqual([]);
    await page.page.close();
  },
);

test('a narrow screen: nothing sticks out, the placeholders fit', async () => {
  const page = await openExamplePage(browser, `${demo.url}?rate=1000`, { width: 360, height: 740 });
  await page.untilAtLeast('#feed-received', 1);
  const fit = await page.page.evaluate(() => {
    const context = document.createElement('canvas').getContext('2d')!;
    const cut = [...document.querySelectorAll('input[placeholder]')].filter((input) => {
      const style = getComputedStyle(input);
      context.font = style.font;
      const room = (input as HTMLElement).clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return context.measureText((input as HTMLInputElement).placeholder).width > room;
    });
    return { cut: cut.map((input) => input.id), overflow: document.documentElement.scrollWidth - window.innerWidth };
  });
  expect(fit).toEqual({ cut: [], overflow: 0 });
  expect(page.problems).toEqual([]);
  await page.page.close();
});

test(
  'the server restarts with the page open: a visible reset, the feed reloaded, new events shown',
  { timeout: 120_000 },
  async () => {
    const page = await openExamplePage(browser, `${demo.url}?rate=1000`);
    await page.untilAtLeast('#feed-received', 5);
    const before = await listedNumbers(page.page, '#feed li');
    expect(await page.text('#feed-resets')).toBe('0');

    // Stop the server, start a new one on the same port (a fresh memory log: a new epoch).
    const { port } = demo;
    await demo.close();
    demo = await startDemo({ port, feedIntervalMs: 100, stepMs: 50 });

    await page.untilText('#feed-resets', '1');
    expect(await page.page.isVisible('#feed-notice')).toBe(true);
    expect(await page.number('#page-resets')).toBeGreaterThanOrEqual(1);
    // The new server counted the resets it sent (its core.stats()).
    await page.untilAtLeast('#server-resets', 1);
    // The restarted feed counts from 1 again; the page shows its items, and keeps receiving them.
    await page.untilAtLeast('#feed-received', 10);
    await page.untilText('#state', 'connected');
    const after = await listedNumbers(page.page, '#feed li');
    expect(after.length).toBeGreaterThanOrEqual(10);
    expect(isContiguousDescending(after)).toBe(true);
    expect(after.at(-1)).toBe(1);
    expect(after).not.toEqual(before.slice(0, after.length));
    expect(await page.text('#feed-missing')).toBe('0');
    expect(await page.text('#feed-duplicates')).toBe('0');
    expect(page.problems).toEqual([]);
    await page.page.close();
  },
);
