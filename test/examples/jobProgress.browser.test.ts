/**
 * A long job in Chromium: the bar and the step list follow the job; after a dropped
 * connection they go on from where they were (every step once, in order); cancel runs the
 * job's `finally` on the server (the server's record says so, and so does the page); a page
 * opened after the job finished shows how it ended.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startJobProgressApp } from '../../examples/job-progress/app.js';
import { launchChromium } from '../helpers/browser.js';
import { openExamplePage } from '../helpers/examplePage.js';

type App = Awaited<ReturnType<typeof startJobProgressApp>>;
let app: App;
let browser: Browser;
beforeAll(async () => {
  app = await startJobProgressApp({ port: 0, stepMs: 100 });
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

const STREAM = '**/trpc/trpc-sse**';
const steps = (page: { page: Page }) =>
  page.page.$$eval('#job-steps li', (items) => items.map((item) => item.textContent));

test(
  'progress, a dropped connection resumed where it was, done; a late page shows the end',
  { timeout: 120_000 },
  async () => {
    const page = await openExamplePage(browser, app.url);
    await page.page.click('#job-start');
    await page.page.waitForFunction(() => document.querySelectorAll('#job-steps li').length >= 5);
    const jobId = /[?&]job=([0-9a-f]{8})/.exec(page.page.url())![1]!;

    // The network drops; the job goes on without the page.
    await page.page.route(STREAM, (route) => route.abort());
    app.core.closeAllStreams();
    await page.untilText('#state', 'connecting');
    const heard = (await steps(page)).length;
    await expect.poll(() => app.jobs.get(jobId)!.steps.length, { timeout: 60_000 }).toBeGreaterThan(heard + 5);
    await page.page.unroute(STREAM);

    await page.untilText('#job-status', /: done$/);
    const listed = await steps(page);
    expect(listed).toEqual(app.jobs.get(jobId)!.steps);
    expect(listed).toHaveLength(40);
    expect(await page.page.$eval('#job-bar', (bar) => (bar as HTMLProgressElement).value)).toBe(100);

    // Opened after the end: the job's state, read first, is all the page needs.
    const late = await openExamplePage(browser, `${app.url}?job=${jobId}`);
    await late.untilText('#job-status', /: done$/);
    expect(await steps(late)).toEqual(listed);
    expect(await late.page.$eval('#job-bar', (bar) => (bar as HTMLProgressElement).value)).toBe(100);
    expect([...page.problems, ...late.problems]).toEqual([]);
    await late.page.close();
    await page.page.close();
  },
);

test("cancel: the job's finally runs on the server, and the page says so", { timeout: 120_000 }, async () => {
  const page = await openExamplePage(browser, app.url);
  await page.page.click('#job-start');
  await page.page.waitForFunction(() => document.querySelectorAll('#job-steps li').length >= 3);
  const jobId = /[?&]job=([0-9a-f]{8})/.exec(page.page.url())![1]!;
  expect(app.jobs.get(jobId)).toMatchObject({ state: 'running', cleanedUp: false });

  await page.page.click('#job-cancel');
  await page.untilText('#job-status', /cancelled \(its cleanup ran on the server\)$/);
  const job = app.jobs.get(jobId)!;
  expect(job).toMatchObject({ state: 'cancelled', cleanedUp: true });
  expect(job.steps.length).toBeLessThan(40);
  expect(await steps(page)).toEqual(job.steps);
  expect(await page.page.isDisabled('#job-cancel')).toBe(true);
  expect(page.problems).toEqual([]);
  await page.page.close();
});
