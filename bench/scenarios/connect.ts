/** 4. Subscribe → first event, sequential. `fresh`: a new client (connection) every time. */
import type { Config } from '../config.js';
import type { TransportInfo } from '../transports/registry.js';
import { withPair } from './pair.js';

export function runConnect(t: TransportInfo, cfg: Config, fresh: boolean) {
  return withPair(t, {}, async (_server, client) =>
    client.call<{ iters: number; errors: number; p50Ms: number; p99Ms: number }>(
      'connect',
      { iters: cfg.connectIters, warmup: cfg.connectWarmup, fresh, timeoutMs: 10_000 },
      150_000,
    ),
  );
}
