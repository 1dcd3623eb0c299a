/**
 * The browser bench scenario: the DevTools-protocol client it drives Chromium with, and one
 * small case per column end to end (a forked server, a forked driver running Chromium, the
 * page bundled from `dist/`), so the report's figures come from runs that read every event.
 */
import { afterEach, expect, test } from 'vitest';
import { Chromium } from '../../bench/browser/cdp.js';
import { BROWSER_COLUMNS } from '../../bench/browser/columns.js';
import { config } from '../../bench/config.js';
import { runBrowser } from '../../bench/scenarios/browser.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

test('the protocol client evaluates in a page, reports page errors, and closes the browser', async () => {
  const browser = await Chromium.launch();
  cleanup.push(() => browser.close());
  const page = await browser.newPage();
  expect(await browser.evaluate<number>(page.sessionId, 'Promise.resolve(6 * 7)')).toBe(42);
  await expect(browser.evaluate(page.sessionId, 'Promise.reject(new Error("boom"))')).rejects.toThrow(/boom/);
  await expect(browser.send('No.such.method')).rejects.toThrow(/CDP:/);
  await page.close();
  await browser.close();
  await expect(browser.send('Browser.getVersion')).rejects.toThrow(/chromium exited/);
});

const SMALL = { ...config, browserEvents: 300, browserRounds: 2, browserWarmupEvents: 100 };

test.each(BROWSER_COLUMNS.map((c) => [c.label, c] as const))(
  '%s: every event read in order, figures measured',
  async (_label, column) => {
    const r = (await runBrowser(column, SMALL)) as Record<string, unknown>;
    expect(r['error']).toBeUndefined();
    expect(r).toMatchObject({ rounds: 2, eventsPerRound: 300, outOfOrder: 0 });
    for (const key of ['eventsPerSec', 'mainThreadUsPerEvent', 'serverCpuUsPerEvent'])
      expect(r[key], key).toBeGreaterThan(0);
    expect(r['chromium']).toMatch(/Chrom/);
  },
  120_000,
);
