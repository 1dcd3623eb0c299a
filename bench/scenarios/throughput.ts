/** 1. Throughput: one subscriber, `count` events as fast as possible; server CPU per event. */
import type { Config } from '../config.js';
import type { TransportInfo } from '../transports/registry.js';
import { cpuDeltaUs, withPair } from './pair.js';

export function runThroughput(t: TransportInfo, cfg: Config) {
  return withPair(t, {}, async (server, client) => {
    const cpu0 = await server.call<NodeJS.CpuUsage>('cpu');
    const r = await client.call<{ received: number; eventsPerSec: number; errors: string[] }>(
      'throughput',
      { count: cfg.throughputCount, timeoutMs: 120_000 },
      150_000,
    );
    const cpu1 = await server.call<NodeJS.CpuUsage>('cpu');
    if (r.received < cfg.throughputCount)
      throw new Error(`received ${r.received}/${cfg.throughputCount}: ${r.errors.join('; ')}`);
    return { ...r, serverCpuUsPerEvent: cpuDeltaUs(cpu0, cpu1) / r.received };
  });
}
