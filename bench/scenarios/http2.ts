/**
 * 8. HTTP/2 with TLS: `h2Subscriptions` subscriptions from ONE client, over one connection —
 * trpc-sse multiplexed (one GET stream + control POSTs as h2 streams), trpc-sse distinct (one
 * h2 stream per subscription) and wsLink over wss:// (one socket). Two measures per case, on
 * the same pair of processes:
 * - fan-out: the subscriptions opened all at once (time to open all), then `fanoutEvents`
 *   ticks at `fanoutRate`/s to every one (latency, CPU per delivery on both sides);
 * - throughput: as many `stream` subscriptions, each taking `h2EventsPerStream` events as fast
 *   as they come, all at once (total events/s, CPU per event on both sides).
 */
import type { Config } from '../config.js';
import { sleep } from '../lib/clock.js';
import type { TransportInfo } from '../transports/registry.js';
import { cpuDeltaUs, waitForSubscribers, withPair } from './pair.js';

export function runHttp2(t: TransportInfo, cfg: Config) {
  const n = cfg.h2Subscriptions;
  // One connection carries all n subscriptions (the multiplexed server's per-connection cap is 100 by default).
  return withPair(t, { BENCH_MAX_SUBS_PER_CONNECTION: n * 2 }, async (server, client) => {
    const opened = await client.call<{ started: number; openMs: number; timedOut: boolean; errors: number }>(
      'open',
      { n, shared: true, record: cfg.fanoutEvents, batch: n, timeoutMs: 60_000 },
      70_000,
    );
    if (opened.timedOut) throw new Error(`only ${opened.started}/${n} subscriptions started (${opened.errors} errors)`);
    await waitForSubscribers(server, n);
    await sleep(cfg.settleMs);
    const fanCpu0 = await server.call<NodeJS.CpuUsage>('cpu');
    await client.call('markCpu');
    const publishMs = (cfg.fanoutEvents / cfg.fanoutRate) * 1000;
    await server.call('publish', { count: cfg.fanoutEvents, rate: cfg.fanoutRate }, publishMs + 60_000);
    const fan = await client.call<{
      expected: number;
      lost: number;
      p50Ms: number;
      p99Ms: number;
      clientCpuUsPerDelivery: number;
    }>('collect', { graceMs: cfg.graceMs }, cfg.graceMs + 60_000);
    const fanCpu1 = await server.call<NodeJS.CpuUsage>('cpu');
    await client.call('closeAll');
    await waitForSubscribers(server, 0);

    const thrCpu0 = await server.call<NodeJS.CpuUsage>('cpu');
    const thr = await client.call<{
      expected: number;
      received: number;
      errors: string[];
      eventsPerSec: number;
      clientCpuUsPerEvent: number;
      wallMs: number;
    }>('parallelStreams', { n, perStream: cfg.h2EventsPerStream, timeoutMs: 120_000 }, 150_000);
    const thrCpu1 = await server.call<NodeJS.CpuUsage>('cpu');
    if (thr.received < thr.expected)
      throw new Error(`throughput: received ${thr.received}/${thr.expected}: ${thr.errors.join('; ')}`);
    const diagnostics = t.server === 'trpc-sse-h2' ? await client.call<object>('diagnostics') : {};
    return {
      subscriptions: n,
      openMs: opened.openMs,
      fanout: {
        ...fan,
        serverCpuUsPerDelivery: cpuDeltaUs(fanCpu0, fanCpu1) / fan.expected,
      },
      throughput: {
        ...thr,
        serverCpuUsPerEvent: cpuDeltaUs(thrCpu0, thrCpu1) / thr.received,
      },
      ...diagnostics,
    };
  });
}
