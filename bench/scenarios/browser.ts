/**
 * 10. The client in a browser: Chromium (headless, Debian's) reads `browserEvents` events of
 * one stream as fast as the server sends them, through sseLink (trpc-sse multiplexed or
 * distinct) or a plain `EventSource` (on trpc-sse's distinct stream, or on the raw SSE
 * server's): browser/columns.ts. Per case: a fresh server process and a fresh driver process
 * (browser/driver.ts, which runs Chromium); the page times events/s, the DevTools protocol
 * the main thread.
 */
import type { BrowserColumn } from '../browser/columns.js';
import type { Config } from '../config.js';
import { forkChild } from '../lib/child.js';
import { TRANSPORTS } from '../transports/registry.js';
import { cpuDeltaUs, startServerChild, type CaseError } from './pair.js';

/** Children end themselves after this even if the orchestrator hangs. */
const CHILD_LIFETIME_MS = 300_000;
/** Bundling the page and launching Chromium take a few seconds on a busy machine. */
const DRIVER_READY_TIMEOUT_MS = 60_000;

export async function runBrowser(column: BrowserColumn, cfg: Config): Promise<object | CaseError> {
  const t = TRANSPORTS.find((x) => x.server === column.server)!;
  const driver = forkChild(
    '../browser/driver.ts',
    [],
    { BENCH_LIFETIME_MS: String(CHILD_LIFETIME_MS) },
    DRIVER_READY_TIMEOUT_MS,
  );
  let server: Awaited<ReturnType<typeof startServerChild>> | undefined;
  try {
    // The driver loads while the server starts.
    server = await startServerChild(t);
    const ready = (await driver.ready) as { chromium: string };
    const cpu0 = await server.child.call<NodeJS.CpuUsage>('cpu');
    const r = await driver.call<{ rounds: number; eventsPerRound: number }>(
      'run',
      {
        reader: column.id,
        port: server.port,
        count: cfg.browserEvents,
        warmup: cfg.browserWarmupEvents,
        rounds: cfg.browserRounds,
        timeoutMs: 120_000,
      },
      180_000,
    );
    const cpu1 = await server.child.call<NodeJS.CpuUsage>('cpu');
    return {
      ...r,
      // The warm-up too: the server cannot tell the runs apart.
      serverCpuUsPerEvent: cpuDeltaUs(cpu0, cpu1) / (r.rounds * r.eventsPerRound + cfg.browserWarmupEvents),
      chromium: ready.chromium,
    };
  } catch (error) {
    const stderr = [driver.stderrTail(), server?.child.stderrTail()].filter(Boolean).join('\n').slice(-1500);
    return {
      error: (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300),
      ...(stderr ? { stderr } : {}),
    };
  } finally {
    await driver.stop();
    await server?.child.stop();
  }
}
