/**
 * The activity feed in Chromium, on both logs. Memory: items held behind "N new" while the
 * reader is scrolled down arrive in full when clicked; a server restart is a visible reset
 * and a reload. Redis (a real redis-server): a server restart is no reset at all, since the
 * log and the store outlive the process; the page resumes with nothing lost or repeated.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startActivityFeedApp } from '../../examples/activity-feed/app.js';
import type { ExampleServer } from '../../examples/shared/exampleServer.js';
import { launchChromium } from '../helpers/browser.js';
import { isContiguousDescending, listedNumbers, openExamplePage } from '../helpers/examplePage.js';
import { startRedisServer, type RedisServer } from '../helpers/redisServer.js';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

describe('on the memory log', () => {
  let app: ExampleServer;
  beforeAll(async () => {
    app = await startActivityFeedApp({ port: 0, intervalMs: 100 });
  });
  afterAll(async () => {
    await app?.close();
  });

  test(
    '"N new" while scrolled down: all of them, once each; a restart: a visible reset and a reload',
    { timeout: 120_000 },
    async () => {
      const page = await openExamplePage(browser, app.url);
      await page.page.waitForFunction(() => {
        const list = document.querySelector('#feed')!;
        return list.scrollHeight > list.clientHeight + 40;
      });
      await page.page.$eval('#feed', (list) => (list.scrollTop = 40));
      await page.untilText('#feed-new', /^([5-9]|\d\d+) new$/);
      const held = Number((await page.text('#feed-new')).split(' ')[0]);
      await page.page.click('#feed-new');
      const listed = await listedNumbers(page.page, '#feed li');
      expect(await page.page.isHidden('#feed-new')).toBe(true);
      expect(listed.length).toBeGreaterThanOrEqual(held);
      expect(isContiguousDescending(listed)).toBe(true);
      expect(await page.text('#feed-missing')).toBe('0');
      expect(await page.text('#feed-duplicates')).toBe('0');

      const { port } = app;
      await app.close();
      app = await startActivityFeedApp({ port, intervalMs: 100 });
      await page.untilText('#feed-resets', '1');
      expect(await page.page.isVisible('#feed-notice')).toBe(true);
      await page.untilAtLeast('#feed-received', 5);
      const after = await listedNumbers(page.page, '#feed li');
      expect(after.at(-1)).toBe(1);
      expect(isContiguousDescending(after)).toBe(true);
      expect(page.problems).toEqual([]);
      await page.page.close();
    },
  );
});

describe('on the Redis log', () => {
  let redis: RedisServer;
  let app: ExampleServer;
  beforeAll(async () => {
    redis = await startRedisServer();
    app = await startActivityFeedApp({ port: 0, intervalMs: 100, redisUrl: `redis://127.0.0.1:${redis.port}` });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await redis?.kill();
  });

  test('a server restart is no reset: the page resumes, nothing lost or repeated', { timeout: 120_000 }, async () => {
    const page = await openExamplePage(browser, app.url);
    await page.untilAtLeast('#feed-received', 5);
    const { port } = app;
    await app.close();
    const last = (await listedNumbers(page.page, '#feed li'))[0]!;
    app = await startActivityFeedApp({ port, intervalMs: 100, redisUrl: `redis://127.0.0.1:${redis.port}` });
    await page.page.waitForFunction(
      (n) => Number(document.querySelector('#feed li')?.getAttribute('data-n')) >= n + 10,
      last,
    );
    const listed = await listedNumbers(page.page, '#feed li');
    expect(listed).toContain(last);
    expect(isContiguousDescending(listed)).toBe(true);
    expect(await page.text('#feed-resets')).toBe('0');
    expect(await page.page.isHidden('#feed-notice')).toBe(true);
    expect(await page.text('#feed-missing')).toBe('0');
    expect(await page.text('#feed-duplicates')).toBe('0');
    expect(page.problems).toEqual([]);
    await page.page.close();
  });
});
