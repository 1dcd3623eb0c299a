import { fileURLToPath } from 'node:url';
import type { EventEmitter } from 'node:events';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (the suite's global setup installs it), or `CHROMIUM_PATH`. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Flags that keep Chromium from reaching for the network this machine does not have. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Chromium, headless, driven by playwright-core. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS });
}

/**
 * Bundles a page script for the browser, in memory: a test fixture importing the client from
 * src/, or (with `alias` and `minify`) a page importing the built package as an app would.
 */
export async function bundlePage(
  entry: URL,
  opts: { alias?: Record<string, string>; minify?: boolean } = {},
): Promise<string> {
  const { build } = await import('esbuild');
  const bundle = await build({
    entryPoints: [fileURLToPath(entry)],
    ...opts,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return bundle.outputFiles[0]!.text;
}

/**
 * Resolves once `predicate` holds, checked now and on every `change` event of `changes`; fails
 * after `timeoutMs` with `what` (and `describe()`, the state worth seeing in a failure).
 */
export function untilChange(
  changes: EventEmitter,
  what: string,
  predicate: () => boolean,
  timeoutMs: number,
  describe: () => string = () => '',
): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!predicate()) return;
      clearTimeout(timer);
      changes.off('change', check);
      resolve();
    };
    const timer = setTimeout(() => {
      changes.off('change', check);
      const detail = describe();
      reject(new Error(`timed out waiting for ${what}${detail ? `; ${detail}` : ''}`));
    }, timeoutMs);
    changes.on('change', check);
    check();
  });
}
