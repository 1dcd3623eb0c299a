/**
 * The demo in a real browser: the page subscribes through sseLink, survives the server
 * dropping every stream (resume, no duplicate), and streams a job's progress to the end.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startDemo, type DemoServer } from '../../examples/demo/app.js';
import { launchChromium } from '../helpers/browser.js';

let demo: DemoServer;
let browser: Browser;
beforeAll(async () => {
  demo = await startDemo({ port: 0, feedIntervalMs: 100 });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await demo?.close();
});

test('feed, resume after a drop, and a job to 100 %', { timeout: 60_000 }, async () => {
  const page = await browser.newPage();
  await page.goto(demo.url);
  await page.waitForFunction(() => document.querySelectorAll('#feed li').length >= 5);
  expect(await page.textContent('#state')).toBe('connected');

  await page.click('#start');
  await page.waitForFunction(() => (document.querySelector('#progress') as HTMLProgressElement).value >= 20);

  const before = Number(await page.textContent('#received'));
  await page.click('#drop');
  // Back to connected, and the feed keeps growing after the drop.
  await page.waitForFunction(
    (n) => Number(document.querySelector('#received')!.textContent) >= n + 10 && document.querySelector('#state')!.textContent === 'connected',
    before,
  );
  await page.fill('#text', 'hello from the browser');
  await page.click('#post button');
  await page.waitForFunction(() => document.querySelector('#feed')!.textContent!.includes('hello from the browser'));
  await page.waitForFunction(() => (document.querySelector('#progress') as HTMLProgressElement).value === 100, null, { timeout: 20_000 });

  expect(await page.textContent('#job')).toMatch(/done$/);
  expect(await page.textContent('#duplicates')).toBe('0');
  expect(await page.textContent('#missing')).toBe('0');
  // Ids are consecutive: nothing was lost across the drop.
  const ids = await page.$$eval('#feed li span', (spans) => spans.map((s) => Number(/^#(\d+)/.exec(s.textContent ?? '')![1])));
  const sorted = [...ids].sort((a, b) => b - a);
  expect(ids).toEqual(sorted);
  expect(sorted[0]! - sorted.at(-1)!).toBe(sorted.length - 1);
});
