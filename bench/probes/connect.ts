/**
 * Scenario 4, client side: subscribe → first event, sequentially. `fresh`: a new client per
 * iteration (a new connection, as a page load or a per-subscriber client would open);
 * otherwise one client kept open and each iteration only subscribes on it.
 */
import { nowUs } from '../lib/clock.js';
import { percentile } from '../lib/stats.js';
import type { BenchClient, ClientFactory } from '../transports/types.js';

function once(client: BenchClient, timeoutMs: number): Promise<{ us: number; error?: string }> {
  const t0 = nowUs();
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: { us: number; error?: string }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // Leave after measuring, outside the delivering callback.
      setImmediate(() => {
        unsubscribe();
        resolve(result);
      });
    };
    const timer = setTimeout(() => finish({ us: NaN, error: 'timeout' }), timeoutMs);
    const unsubscribe = client.subscribe('hello', undefined, {
      onStarted: () => undefined,
      onData: () => finish({ us: nowUs() - t0 }),
      onError: (error) => finish({ us: NaN, error: error instanceof Error ? error.message : String(error) }),
      onComplete: () => finish({ us: NaN, error: 'completed without data' }),
    });
  });
}

export async function connect(
  factory: ClientFactory,
  opts: { iters: number; warmup: number; fresh: boolean; timeoutMs: number },
) {
  const shared = opts.fresh ? null : factory();
  const times: number[] = [];
  const errors: string[] = [];
  for (let i = 0; i < opts.warmup + opts.iters; i++) {
    const client = shared ?? factory();
    const { us, error } = await once(client, opts.timeoutMs);
    if (!shared) client.close();
    if (error) errors.push(error);
    else if (i >= opts.warmup) times.push(us / 1e3);
    if (errors.length > 10) break;
  }
  shared?.close();
  times.sort((a, b) => a - b);
  return {
    iters: times.length,
    errors: errors.length,
    errorSamples: errors.slice(0, 3),
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
  };
}
