/**
 * An example's page in Chromium, as a person would see it: its text, its numbers, and any
 * script error or failed request along the way (a test asserts there were none).
 */
import type { Browser, Page } from 'playwright-core';

export interface ExamplePage {
  page: Page;
  /** Uncaught errors, and responses with a status of 400 or more, since the page opened. */
  problems: string[];
  /** Requests for the multiplexed stream (`GET …/trpc/trpc-sse`) the page made. */
  streamRequests(): number;
  text(selector: string): Promise<string>;
  number(selector: string): Promise<number>;
  /** Resolves once the element's number is at least `min`. */
  untilAtLeast(selector: string, min: number, timeout?: number): Promise<void>;
  untilText(selector: string, expected: string | RegExp, timeout?: number): Promise<void>;
}

export async function openExamplePage(
  browser: Browser,
  url: string,
  viewport = { width: 1280, height: 900 },
): Promise<ExamplePage> {
  const page = await browser.newPage({ viewport });
  const problems: string[] = [];
  let streams = 0;
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
  });
  page.on('request', (request) => {
    if (request.method() === 'GET' && new URL(request.url()).pathname.endsWith('/trpc/trpc-sse')) streams++;
  });
  await page.goto(url);
  const text = async (selector: string): Promise<string> => (await page.textContent(selector)) ?? '';
  return {
    page,
    problems,
    streamRequests: () => streams,
    text,
    number: async (selector) => Number((await text(selector)).replace(/,/g, '')),
    untilAtLeast: async (selector, min, timeout = 60_000) => {
      await page.waitForFunction(
        ([s, n]) => Number(document.querySelector(s)?.textContent?.replace(/,/g, '')) >= n,
        [selector, min] as const,
        { timeout },
      );
    },
    untilText: async (selector, expected, timeout = 60_000) => {
      const source = typeof expected === 'string' ? null : { source: expected.source, flags: expected.flags };
      await page.waitForFunction(
        ([s, literal, pattern]) => {
          const value = document.querySelector(s)?.textContent ?? '';
          if (pattern) {
            const { source: src, flags } = pattern;
            return new RegExp(src, flags).test(value);
          }
          return value === literal;
        },
        [selector, typeof expected === 'string' ? expected : null, source] as const,
        { timeout },
      );
    },
  };
}

/** The numbers of the feed items a page lists, newest first. */
export function listedNumbers(page: Page, selector: string): Promise<number[]> {
  return page.$$eval(selector, (items) => items.map((item) => Number((item as HTMLElement).dataset['n'])));
}

/** Whole numbers one apart, newest first (what a list with nothing lost or repeated shows). */
export function isContiguousDescending(values: number[]): boolean {
  return values.every((value, i) => i === 0 || value === values[i - 1]! - 1);
}
