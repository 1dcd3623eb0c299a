/**
 * Per-user notifications in Chromium, two users on two pages. What each person sees: their
 * own notifications only (toast, inbox, unread count), and an unread count that is right
 * after a dropped connection (replayed), after a server restart (reset: the inbox is fetched
 * again) and after a token refresh (the next connection signs in with the new token).
 * While a page is "offline", its stream requests are refused in the browser, so what is sent
 * meanwhile can only reach it by the resume or the refetch under test.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startNotificationsApp } from '../../examples/notifications/app.js';
import { NotificationStore } from '../../examples/notifications/store.js';
import { Sessions } from '../../examples/shared/sessions.js';
import { launchChromium } from '../helpers/browser.js';
import { openExamplePage, type ExamplePage } from '../helpers/examplePage.js';

type App = Awaited<ReturnType<typeof startNotificationsApp>>;

// The app's database: kept across the restart, as a real one would be.
const store = new NotificationStore();
const sessions = new Sessions();
let app: App;
let browser: Browser;
let ada: ExamplePage;
let grace: ExamplePage;

beforeAll(async () => {
  app = await startNotificationsApp({ port: 0, store, sessions });
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

const STREAM = '**/trpc/trpc-sse**';
const offline = (page: ExamplePage) => page.page.route(STREAM, (route) => route.abort());
const online = (page: ExamplePage) => page.page.unroute(STREAM);

async function send(from: ExamplePage, to: string, text: string): Promise<void> {
  await from.page.fill('#notify-to', to);
  await from.page.fill('#notify-text', text);
  await from.page.click('#notify button');
}

test(
  'two users: each sees their own notifications, as toasts and in the unread count',
  { timeout: 90_000 },
  async () => {
    ada = await openExamplePage(browser, `${app.url}?user=ada`);
    grace = await openExamplePage(browser, `${app.url}?user=grace`);
    for (const page of [ada, grace]) await page.untilText('#connection-token', '1');

    await send(ada, 'grace', 'lunch?');
    await grace.untilText('#unread', '1');
    await grace.untilText('#toasts', /ada: lunch\?/);
    await send(grace, 'ada', 'yes, at noon');
    await send(grace, 'grace', 'note to self');
    await ada.untilText('#unread', '1');
    await grace.untilText('#unread', '2');

    expect(await ada.text('#inbox')).toContain('grace: yes, at noon');
    expect(await ada.text('#inbox')).not.toMatch(/lunch|note to self/);
    expect(await ada.text('#toasts')).not.toMatch(/lunch|note to self/);
    expect(await grace.text('#inbox')).not.toContain('yes, at noon');

    await grace.page.click('#mark-read');
    await grace.untilText('#unread', '0');
    expect(ada.problems).toEqual([]);
    expect(grace.problems).toEqual([]);
  },
);

test('a dropped connection: what was sent meanwhile is replayed, the count is right', { timeout: 90_000 }, async () => {
  await offline(ada);
  app.core.closeAllStreams();
  await ada.untilText('#state', 'connecting');
  await app.notifier.notify('ada', 'grace', 'sent while you were away');
  await app.notifier.notify('ada', 'grace', 'and another');
  expect(await ada.text('#unread')).toBe('1');
  await online(ada);
  await ada.untilText('#unread', '3');
  await ada.untilText('#toasts', /and another/);
  expect(await ada.text('#inbox-notice')).toBe('');
  expect(await ada.text('#state')).toBe('connected');
});

test(
  'a server restart: the page is told it cannot resume, fetches the inbox, and the count is right',
  { timeout: 90_000 },
  async () => {
    await offline(ada);
    const { port } = app;
    await app.close();
    await ada.untilText('#state', 'connecting');
    app = await startNotificationsApp({ port, store, sessions });
    // Sent on the new server before the page is back: its memory log cannot replay it to a
    // page that resumes from the old server's ids. Only the refetch after the reset shows it.
    await app.notifier.notify('ada', 'grace', 'welcome back');
    await online(ada);
    await ada.untilText('#unread', '4');
    expect(await ada.page.isVisible('#inbox-notice')).toBe(true);
    expect(await ada.text('#inbox')).toContain('grace: welcome back');
    expect(await ada.number('#page-resets')).toBeGreaterThanOrEqual(1);
    // And live again: a new one arrives by the subscription.
    await send(grace, 'ada', 'live after the restart');
    await ada.untilText('#unread', '5');
  },
);

test(
  'a token refresh: the open connection keeps its session, the next connection uses the new token',
  { timeout: 90_000 },
  async () => {
    await ada.untilText('#connection-token', '1');
    await ada.page.click('#refresh-token');
    await ada.untilText('#page-token', '2');
    // Same connection, same session: credentials are read once per connection.
    expect(await ada.text('#connection-token')).toBe('1');
    // A deploy's drain: every page moves to a new connection, which signs in again.
    await fetch(new URL('/reconnect-all', app.url), { method: 'POST' });
    await ada.untilText('#connection-token', '2');
    // The old token no longer works, so the new connection could only have used the new one;
    // and nothing was lost on the way.
    await send(grace, 'ada', 'after the refresh');
    await ada.untilText('#unread', '6');
    expect(await ada.text('#inbox')).toContain('grace: after the refresh');
    expect(ada.problems).toEqual([]);
  },
);
