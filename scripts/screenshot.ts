/**
 * The demo's picture in the README: `npx tsx scripts/screenshot.ts` (after `npm run build`)
 * starts the demo, drives its page in Chromium until every widget shows something, and writes
 * examples/demo/screenshot.png. CHROMIUM_PATH overrides /usr/bin/chromium.
 */
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startDemo } from '../examples/demo/app.js';

const output = fileURLToPath(new URL('../examples/demo/screenshot.png', import.meta.url));
const demo = await startDemo({ port: 0, feedIntervalMs: 400, stepMs: 150 });
const browser = await chromium.launch({
  executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`${demo.url}?rate=2000`);
  await page.waitForFunction(() => Number(document.querySelector('#feed-received')?.textContent) >= 8);
  await page.fill('#notify-text', 'Your export is ready');
  await page.click('#notify button');
  await page.fill('#notify-text', 'Grace mentioned you in #42');
  await page.click('#notify button');
  await page.waitForFunction(() => document.querySelector('#unread')?.textContent === '2');
  await page.click('#job-start');
  await page.waitForFunction(() => document.querySelectorAll('#job-steps li').length >= 14);
  await page.waitForFunction(
    () => Number(document.querySelector('#log-lines')?.textContent?.replace(/,/g, '')) >= 10_000,
  );
  await page.screenshot({ path: output, fullPage: true });
  console.log(`wrote ${output}`);
} finally {
  await browser.close();
  await demo.close();
}
