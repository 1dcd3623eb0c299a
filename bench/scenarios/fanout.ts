/**
 * 2. Fan-out: N subscribers (one client each, all in one client process), `events` ticks at
 * `rate`/s. A delivery not received `graceMs` after the last publish counts as lost (the
 * transport is saturated; its latency figures then cover what did arrive).
 */
import type { Config } from '../config.js';
import { sleep } from '../lib/clock.js';
import type { TransportInfo } from '../transports/registry.js';
import { cpuDeltaUs, waitForSubscribers, withPair } from './pair.js';

export function runFanout(t: TransportInfo, cfg: Config, n: number) {
  return withPair(t, {}, async (server, client) => {
    const opened = await client.call<{ started: number; openMs: number; timedOut: boolean; errors: number }>(
      'open',
      { n, shared: false, record: cfg.fanoutEvents, batch: 100, timeoutMs: 150_000 },
      170_000,
    );
    if (opened.timedOut) throw new Error(`only ${opened.started}/${n} subscriptions started (${opened.errors} errors)`);
    await waitForSubscribers(server, n);
    await sleep(cfg.settleMs);
    const cpu0 = await server.call<NodeJS.CpuUsage>('cpu');
    await client.call('markCpu');
    const publishMs = (cfg.fanoutEvents / cfg.fanoutRate) * 1000;
    await server.call('publish', { count: cfg.fanoutEvents, rate: cfg.fanoutRate }, publishMs + 60_000);
    const r = await client.call<{ expected: number; lost: number }>('collect', { graceMs: cfg.graceMs }, cfg.graceMs + 60_000);
    const cpu1 = await server.call<NodeJS.CpuUsage>('cpu', {}, 60_000);
    const mem = await server.call<{ rss: number }>('memNow', {}, 60_000);
    // Live heap after gc: what the server still holds for N subscribers that just took a burst
    // (heapUsed without gc would mostly measure garbage not yet collected).
    const live = await server.call<{ heapUsed: number }>('mem', {}, 60_000);
    return {
      ...r,
      openMs: opened.openMs,
      serverCpuUsPerDelivery: cpuDeltaUs(cpu0, cpu1) / r.expected,
      serverRssMB: mem.rss / 2 ** 20,
      serverLiveHeapMB: live.heapUsed / 2 ** 20,
      saturated: r.lost > 0,
    };
  });
}
