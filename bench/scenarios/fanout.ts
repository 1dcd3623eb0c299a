/**
 * 2. Fan-out: N subscribers (one client each, all in one client process), `events` ticks at
 * `rate`/s. A delivery not received `graceMs` after the last publish counts as lost (the
 * transport is saturated; its latency figures then cover what did arrive).
 */
import type { Config } from '../config.js';
import type { Child } from '../lib/child.js';
import { sleep } from '../lib/clock.js';
import { procCpuUs, procRssBytes } from '../lib/procStat.js';
import type { TransportInfo } from '../transports/registry.js';
import { waitForSubscribers, withPair } from './pair.js';

/**
 * Server CPU (µs since start). Over IPC (`process.cpuUsage()`); a saturated server may take
 * minutes to get to an IPC message, so after 20 s the kernel's count is read instead.
 */
export async function serverCpuUs(server: Child): Promise<{ us: number; via: 'ipc' | 'proc' }> {
  try {
    const c = await server.call<NodeJS.CpuUsage>('cpu', {}, 20_000);
    return { us: c.user + c.system, via: 'ipc' };
  } catch {
    return { us: procCpuUs(server.proc.pid!), via: 'proc' };
  }
}

/** `serverEnv`: settings of the server process (the observability scenario turns its listeners on there). */
export function runFanout(t: TransportInfo, cfg: Config, n: number, serverEnv: Record<string, string | number> = {}) {
  return withPair(t, serverEnv, async (server, client) => {
    const opened = await client.call<{ started: number; openMs: number; timedOut: boolean; errors: number }>(
      'open',
      { n, shared: false, record: cfg.fanoutEvents, batch: 100, timeoutMs: 150_000 },
      170_000,
    );
    if (opened.timedOut) throw new Error(`only ${opened.started}/${n} subscriptions started (${opened.errors} errors)`);
    await waitForSubscribers(server, n);
    await sleep(cfg.settleMs);
    const cpu0 = await serverCpuUs(server);
    await client.call('markCpu');
    const publishMs = (cfg.fanoutEvents / cfg.fanoutRate) * 1000;
    const published = await server.call<{ loopBusy: number }>(
      'publish',
      { count: cfg.fanoutEvents, rate: cfg.fanoutRate },
      publishMs + 60_000,
    );
    const r = await client.call<{ expected: number; lost: number }>(
      'collect',
      { graceMs: cfg.graceMs },
      cfg.graceMs + 60_000,
    );
    const cpu1 = await serverCpuUs(server);
    // Best effort from here: a saturated server may not answer, and the deliveries are already counted.
    const rss = await server
      .call<{ rss: number }>('memNow', {}, 20_000)
      .then((m) => m.rss)
      .catch(() => procRssBytes(server.proc.pid!));
    // Live heap after gc: what the server still holds for N subscribers that just took a burst
    // (heapUsed without gc would mostly measure garbage not yet collected).
    const liveHeap = await server
      .call<{ heapUsed: number }>('mem', {}, 30_000)
      .then((m) => m.heapUsed)
      .catch(() => NaN);
    // Proof that the observability scenario's listeners were there (they only count).
    const observed = serverEnv['BENCH_OBSERVE']
      ? { observedMessages: await server.call<number>('observed', {}, 20_000) }
      : {};
    return {
      ...observed,
      ...r,
      openMs: opened.openMs,
      serverCpuUsPerDelivery: (cpu1.us - cpu0.us) / r.expected,
      serverCpuVia: cpu0.via === cpu1.via ? cpu0.via : `${cpu0.via}+${cpu1.via}`,
      serverLoopBusyPct: published.loopBusy * 100,
      serverRssMB: rss / 2 ** 20,
      serverLiveHeapMB: liveHeap / 2 ** 20,
      saturated: r.lost > 0,
    };
  });
}
