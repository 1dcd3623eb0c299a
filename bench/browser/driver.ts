/**
 * The browser scenario's client process: one headless Chromium (cdp.ts), one fresh page per
 * case, driven over IPC like processes/client.ts. The page is served at the benchmark server's
 * own origin (the protocol's Fetch domain answers that one URL, then is turned off), so the
 * streams are same-origin and go straight to the server.
 *
 * Main-thread time is the protocol's `Performance.getMetrics` `TaskDuration` before and after
 * a run: every task the renderer's main thread ran, so the readers' JavaScript with its promise
 * jobs, what Chromium does there for them (EventSource's parser and event dispatch, the stream
 * reads behind fetch) and garbage collection. Timing the handlers with `performance.now()` would
 * miss all but the handlers; `ScriptDuration` misses promise jobs (a fetch reader's work shows
 * as almost nothing), so it is not reported. TaskDuration is wall time inside tasks, so CPU per
 * process (`SystemInfo.getProcessInfo`) is reported too.
 */
import { num, serveIpc } from '../lib/ipc.js';
import { bundlePage } from './bundle.js';
import { Chromium } from './cdp.js';
import { BROWSER_COLUMNS, type BrowserReader } from './columns.js';
import type { PageRun } from './page.js';

const READERS = BROWSER_COLUMNS.map((c) => c.id);

const script = await bundlePage();
const browser = await Chromium.launch();
const { product } = await browser.send<{ product: string }>('Browser.getVersion');

/** Seconds the renderer's main thread has spent running tasks since the page opened (wall time inside tasks). */
async function mainThreadSeconds(sessionId: string): Promise<number> {
  const { metrics } = await browser.send<{ metrics: Array<{ name: string; value: number }> }>(
    'Performance.getMetrics',
    {},
    sessionId,
  );
  return metrics.find((m) => m.name === 'TaskDuration')?.value ?? NaN;
}

/**
 * CPU seconds of every Chromium process (browser, renderers, network service, GPU…), as the
 * browser counts them (10 ms steps): CPU, not wall time, so a busy machine does not inflate it.
 */
async function chromiumCpuSeconds(): Promise<{ all: number; renderers: number }> {
  const { processInfo } = await browser.send<{ processInfo: Array<{ type: string; cpuTime: number }> }>(
    'SystemInfo.getProcessInfo',
  );
  let all = 0;
  let renderers = 0;
  for (const p of processInfo) {
    all += p.cpuTime;
    if (p.type === 'renderer') renderers += p.cpuTime;
  }
  return { all, renderers };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * One page; a warm-up run, then `rounds` measured runs of `count` events, each on a new
 * stream. Every figure is the median over the rounds.
 */
async function run(args: Record<string, unknown>) {
  const reader = args['reader'] as BrowserReader;
  if (!READERS.includes(reader)) throw new Error(`argument reader must be one of ${READERS.join(', ')}`);
  const port = num(args, 'port');
  const count = num(args, 'count');
  const warmup = num(args, 'warmup');
  const rounds = num(args, 'rounds', 3);
  const timeoutMs = num(args, 'timeoutMs', 120_000);
  const page = await browser.newPage();
  try {
    await openBenchPage(page.sessionId, `http://127.0.0.1:${port}/bench.html`);
    const sessionId = page.sessionId;
    await browser.send('Performance.enable', {}, sessionId);
    const pageRun = (n: number): Promise<PageRun> =>
      browser.evaluate(sessionId, `window.benchRun(${JSON.stringify(reader)}, ${n}, ${timeoutMs})`);
    // A first, shorter run compiles the hot paths, so the measured ones are steady state.
    const warm = await pageRun(warmup);
    if (warm.error) throw new Error(`warm-up: ${warm.error}`);
    const perRound = {
      eventsPerSec: [] as number[],
      mainThread: [] as number[],
      renderer: [] as number[],
      all: [] as number[],
    };
    let outOfOrder = 0;
    for (let round = 0; round < rounds; round++) {
      const task0 = await mainThreadSeconds(sessionId);
      const cpu0 = await chromiumCpuSeconds();
      const measured = await pageRun(count);
      const task1 = await mainThreadSeconds(sessionId);
      const cpu1 = await chromiumCpuSeconds();
      if (measured.error) throw new Error(`round ${round + 1}: ${measured.error}`);
      outOfOrder += measured.outOfOrder;
      perRound.eventsPerSec.push((measured.received - 1) / (measured.spanMs / 1e3));
      perRound.mainThread.push(((task1 - task0) * 1e6) / measured.received);
      perRound.renderer.push(((cpu1.renderers - cpu0.renderers) * 1e6) / measured.received);
      perRound.all.push(((cpu1.all - cpu0.all) * 1e6) / measured.received);
    }
    return {
      rounds,
      eventsPerRound: count,
      outOfOrder,
      eventsPerSec: median(perRound.eventsPerSec),
      mainThreadUsPerEvent: median(perRound.mainThread),
      rendererCpuUsPerEvent: median(perRound.renderer),
      chromiumCpuUsPerEvent: median(perRound.all),
      perRound,
    };
  } finally {
    await page.close();
  }
}

/** Navigates to `url`, answering that one request with the page, and waits for its script to run. */
async function openBenchPage(sessionId: string, url: string): Promise<void> {
  const html = `<!doctype html><meta charset="utf-8"><title>bench</title><script type="module">${script}</script>`;
  const off = browser.on('Fetch.requestPaused', (params, from) => {
    if (from !== sessionId) return;
    void browser.send(
      'Fetch.fulfillRequest',
      {
        requestId: params['requestId'],
        responseCode: 200,
        responseHeaders: [{ name: 'content-type', value: 'text/html; charset=utf-8' }],
        body: Buffer.from(html).toString('base64'),
      },
      sessionId,
    );
  });
  try {
    await browser.send('Fetch.enable', { patterns: [{ urlPattern: url }] }, sessionId);
    await browser.send('Page.navigate', { url }, sessionId);
    // The new document may not have replaced about:blank yet: ask again until its script ran.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await browser
        .evaluate<boolean>(sessionId, "typeof window.benchRun === 'function'")
        .catch(() => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`${url}: the page script did not run`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    off();
    await browser.send('Fetch.disable', {}, sessionId);
  }
}

serveIpc({ run }, { pid: process.pid, chromium: product });
