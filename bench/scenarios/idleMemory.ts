/**
 * 3. Idle memory, server side, after gc: what each idle subscriber costs. Per connection: one
 * client per subscriber. Per subscription on one connection: N extra subscriptions through a
 * single client (trpc-sse multiplexed: one stream; wsLink: one socket).
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config.js';
import { sleep } from '../lib/clock.js';
import type { Child } from '../lib/child.js';
import type { TransportInfo } from '../transports/registry.js';
import { waitForSubscribers, withPair } from './pair.js';

interface Memory {
  rss: number;
  heapUsed: number;
}

const KB = 1024;

async function openAndWait(server: Child, client: Child, add: number, total: number, shared: boolean): Promise<number> {
  const r = await client.call<{ started: number; openMs: number; timedOut: boolean; errors: number }>(
    'open',
    { n: add, shared, batch: 100, timeoutMs: 150_000 },
    170_000,
  );
  if (r.timedOut) throw new Error(`only ${r.started}/${add} subscriptions started (${r.errors} errors)`);
  await waitForSubscribers(server, total);
  return r.openMs;
}

/**
 * The server's memory after gc; with `cfg.heapSnapshotDir`, then also a heap snapshot of it,
 * `<dir>/<name>.heapsnapshot` (after the reading, so writing it does not skew this one).
 */
async function measure(server: Child, cfg: Config, name: string): Promise<Memory> {
  const m = await server.call<Memory>('mem');
  if (cfg.heapSnapshotDir) {
    mkdirSync(cfg.heapSnapshotDir, { recursive: true });
    await server.call('heapSnapshot', { path: resolve(cfg.heapSnapshotDir, `${name}.heapsnapshot`) }, 180_000);
  }
  return m;
}

/** Warm-up: run the code paths once (JIT, lazy initialisation), then return to zero subscribers. */
async function warmUp(server: Child, client: Child, shared: boolean, settleMs: number): Promise<void> {
  await openAndWait(server, client, 50, 50, shared);
  await client.call('closeAll');
  await waitForSubscribers(server, 0);
  await sleep(settleMs);
}

export function runIdlePerConnection(t: TransportInfo, cfg: Config) {
  return withPair(t, {}, async (server, client) => {
    await warmUp(server, client, false, cfg.settleMs);
    const base = await measure(server, cfg, `idle-${t.id}-0`);
    const out: Record<string, unknown> = { baseRssMB: base.rss / 2 ** 20, baseHeapMB: base.heapUsed / 2 ** 20 };
    let have = 0;
    for (const n of cfg.memorySizes) {
      const openMs = await openAndWait(server, client, n - have, n, false);
      have = n;
      await sleep(cfg.settleMs);
      const m = await measure(server, cfg, `idle-${t.id}-${n}`);
      out[n] = {
        openMs,
        rssKBPerConn: (m.rss - base.rss) / n / KB,
        heapKBPerConn: (m.heapUsed - base.heapUsed) / n / KB,
      };
    }
    return out;
  });
}

export function runIdlePerSharedSubscription(t: TransportInfo, cfg: Config) {
  const extra = cfg.sharedSubscriptions;
  // trpc-sse caps subscriptions per connection at 100 by default; this case needs more.
  return withPair(t, { BENCH_MAX_SUBS_PER_CONNECTION: extra + 100 }, async (server, client) => {
    await warmUp(server, client, true, cfg.settleMs);
    // The baseline already holds the connection (with one subscription): only subscriptions are added.
    await openAndWait(server, client, 1, 1, true);
    await sleep(cfg.settleMs);
    const base = await measure(server, cfg, `idle-shared-${t.id}-1`);
    await openAndWait(server, client, extra, extra + 1, true);
    await sleep(cfg.settleMs);
    const m = await measure(server, cfg, `idle-shared-${t.id}-${extra + 1}`);
    return {
      subscriptions: extra,
      rssKBPerSub: (m.rss - base.rss) / extra / KB,
      heapKBPerSub: (m.heapUsed - base.heapUsed) / extra / KB,
    };
  });
}
