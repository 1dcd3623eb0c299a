/**
 * Log streaming in Chromium: thousands of lines a second arrive as `Uint8Array` chunks with
 * no gap; Pause stops the program on the server and Resume goes on from the next line; and a
 * page that stops reading (its script paused in the debugger) stops the program too, with
 * what the server read from it bounded by the buffers in between, not growing.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startLogStreamingApp } from '../../examples/log-streaming/app.js';
import { launchChromium } from '../helpers/browser.js';
import { openExamplePage } from '../helpers/examplePage.js';

type App = Awaited<ReturnType<typeof startLogStreamingApp>>;
let app: App;
let browser: Browser;
beforeAll(async () => {
  app = await startLogStreamingApp({ port: 0 });
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

/**
 * Pipe, socket and browser buffers between the program and the page's script, with room to
 * spare: far below what an unpaused program writes while the test waits for it to stop.
 */
const BUFFERED_BOUND = 48 * 1024 * 1024;

test(
  'lines as Uint8Array chunks, no gap; Pause stops the program, Resume goes on from the next line',
  { timeout: 120_000 },
  async () => {
    const page = await openExamplePage(browser, `${app.url}?rate=5000`);
    await page.untilAtLeast('#log-lines', 5_000);
    expect(await page.number('#log-binary')).toBeGreaterThan(0);
    expect(await page.text('#log-gaps')).toBe('0');
    expect(app.sources.running).toBe(1);

    await page.page.click('#log-pause');
    await expect.poll(() => app.sources.running, { timeout: 30_000 }).toBe(0);
    const last = await page.number('#log-last');
    await page.page.click('#log-pause');
    await page.untilAtLeast('#log-last', last + 2_000);
    expect(await page.text('#log-gaps')).toBe('0');
    // The view shows the newest lines, numbered on from where it paused.
    const shown = (await page.text('#log')).split('\n').map((line) => Number(line.slice(0, 8)));
    expect(shown.every((n, i) => i === 0 || n === shown[i - 1]! + 1)).toBe(true);
    expect(page.problems).toEqual([]);
    await page.page.close();
  },
);

test(
  'a page that stops reading stops the program: what the server read stays bounded',
  { timeout: 420_000 },
  async () => {
    const page = await openExamplePage(browser, `${app.url}?rate=20000`);
    await page.untilAtLeast('#log-lines', 20_000);
    // As fast as the page reads.
    await page.page.selectOption('#log-rate', '0');
    // The program at 20,000 lines/s has stopped; the unbounded one runs alone.
    await expect.poll(() => app.sources.running, { timeout: 30_000 }).toBe(1);
    await page.untilAtLeast('#log-lines', 200_000);
    const readBefore = app.sources.bytesRead;
    const cdp = await page.page.context().newCDPSession(page.page);
    await cdp.send('Debugger.enable');
    await cdp.send('Debugger.pause');

    // The program stops once the buffers in between are full: the count stops moving. On a
    // starved machine they fill slowly, so the wait is long; a program that is not stopped
    // reads past the bound and ends the wait at once.
    let previous = -1;
    let stopped = false;
    await expect
      .poll(
        () => {
          const now = app.sources.bytesRead;
          stopped = now === previous;
          previous = now;
          return stopped || now - readBefore >= BUFFERED_BOUND;
        },
        { timeout: 300_000, interval: 1_000 },
      )
      .toBe(true);
    expect(app.sources.bytesRead - readBefore).toBeLessThan(BUFFERED_BOUND);
    expect(stopped).toBe(true);
    // Stopped by backpressure, not ended.
    expect(app.sources.running).toBe(1);

    await cdp.send('Debugger.resume');
    const lines = await page.number('#log-lines');
    await page.untilAtLeast('#log-lines', lines + 100_000);
    expect(await page.text('#log-gaps')).toBe('0');
    await page.page.close();
  },
);
