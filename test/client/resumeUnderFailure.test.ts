/**
 * 1,000 tracked events while the connection is cut at random points and the server process
 * is killed and restarted once: the client sees every event exactly once, in order.
 */
import { createTRPCClient } from '@trpc/client';
import { afterEach, expect, test } from 'vitest';
import { sseLink } from '../../src/client/index.js';
import { startChaosProxy, type ChaosProxy } from '../helpers/chaosProxy.js';
import { Collector } from '../helpers/collector.js';
import { startServerProcess, type ServerProcess } from '../helpers/processes.js';
import type { TestRouter } from '../helpers/router.js';

/** mulberry32: a seeded PRNG, so a failing run can be replayed with its seed. */
function prng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let server: ServerProcess | undefined;
let proxy: ChaosProxy | undefined;
afterEach(async () => {
  await server?.kill();
  await proxy?.close();
});

test.each(['distinct', 'multiplexed'] as const)(
  '%s: every one of 1,000 tracked events exactly once, across random cuts and a server restart',
  { timeout: 90_000 },
  async (mode) => {
    const seed = Number(process.env['CHAOS_SEED'] ?? Date.now() % 1_000_000);
    const random = prng(seed);
    server = await startServerProcess();
    const port = server.port;
    proxy = await startChaosProxy(() => port);
    const total = 1000;
    // Ten cut points and one restart point, spread over the run.
    const cuts = new Set(Array.from({ length: 10 }, () => 20 + Math.floor(random() * (total - 40))));
    const restartAt = 300 + Math.floor(random() * 400);

    const client = createTRPCClient<TestRouter>({
      links: [sseLink({ url: `http://127.0.0.1:${proxy.port}/trpc`, retry: { minDelayMs: 5, maxDelayMs: 50 }, mode })],
    });
    const c = new Collector<{ id: string; data: { n: number } }>();
    let restarting: Promise<void> | undefined;
    const handlers = c.handlers();
    const sub = client.counter.subscribe(
      { count: total, intervalMs: 1 },
      {
        ...handlers,
        onData: (value) => {
          handlers.onData(value);
          const seen = c.data.length;
          if (cuts.has(seen)) proxy!.cutAll();
          if (seen === restartAt) {
            // Kill the process outright, then start a fresh one on the same port.
            restarting = (async () => {
              await server!.kill();
              server = await startServerProcess(port);
            })();
          }
        },
      },
    );
    try {
      await c.until(() => c.completed || c.errors.length > 0, `completion (seed ${seed})`, 80_000);
      await restarting;
      expect(c.errors, `seed ${seed}`).toEqual([]);
      expect(
        c.data.map((d) => d.data.n),
        `seed ${seed}`,
      ).toEqual(Array.from({ length: total }, (_, i) => i));
      expect(c.data.map((d) => d.id)).toEqual(Array.from({ length: total }, (_, i) => String(i)));
      // It really did reconnect: once per cut that hit a live stream, plus the restart.
      expect(proxy.connections, `seed ${seed}`).toBeGreaterThanOrEqual(2);
      expect(c.states.filter((s) => s.state === 'connecting' && s.error).length).toBeGreaterThanOrEqual(1);
    } finally {
      sub.unsubscribe();
    }
  },
);
