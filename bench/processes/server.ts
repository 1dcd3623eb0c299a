/**
 * A benchmark server process: `server.ts <trpc-sse|stock-sse|ws|raw>`, settings in BENCH_* env.
 * Forked fresh for every case; answers the orchestrator over IPC. CPU and memory are measured
 * here, in the process itself: `process.cpuUsage()`, and `memoryUsage()` after `gc()`.
 */
import { writeHeapSnapshot } from 'node:v8';
import { performance } from 'node:perf_hooks';
import { nowUs, sleep } from '../lib/clock.js';
import { num, serveIpc } from '../lib/ipc.js';
import { startServer } from '../transports/registry.js';
import type { ServerKind } from '../transports/types.js';

const kind = process.argv[2] as ServerKind;
const env = (key: string, fallback: number): number => Number(process.env[key] ?? fallback);

const server = await startServer(kind, {
  port: env('BENCH_PORT', 0),
  counter: {
    t0: env('BENCH_COUNTER_T0', Date.now()),
    periodMs: env('BENCH_COUNTER_PERIOD_MS', 500),
    generation: env('BENCH_GENERATION', 1),
  },
  maxSubscriptionsPerConnection: env('BENCH_MAX_SUBS_PER_CONNECTION', 100),
});

function memoryAfterGc() {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** `count` ticks at `rate`/s on a fixed schedule (a late tick is not made up by bunching). */
async function publish(args: Record<string, unknown>) {
  const count = num(args, 'count');
  const rate = num(args, 'rate');
  const periodMs = 1000 / rate;
  const start = performance.now();
  const loop0 = performance.eventLoopUtilization();
  const deadline = start + count * periodMs + 30_000;
  let sent = 0;
  for (; sent < count && performance.now() < deadline; sent++) {
    const wait = start + sent * periodMs - performance.now();
    if (wait > 0) await sleep(wait);
    server.publishTick({ seq: sent, ts: nowUs() });
  }
  // How busy the event loop was while publishing: near 1, deliveries queue up (latency grows).
  return { sent, lastAtUs: nowUs(), loopBusy: performance.eventLoopUtilization(loop0).utilization };
}

serveIpc(
  {
    subs: () => server.subscribers(),
    cpu: () => process.cpuUsage(),
    /** Memory as it is (no gc): what the process holds at the end of a fan-out. */
    memNow: () => {
      const m = process.memoryUsage();
      return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
    },
    mem: async () => {
      // Let closed sockets and finished requests settle before collecting.
      await sleep(100);
      memoryAfterGc();
      await sleep(100);
      return memoryAfterGc();
    },
    /** A V8 heap snapshot after gc, written to `path` (the idle-memory scenario, `BENCH_HEAP_SNAPSHOT_DIR`). */
    heapSnapshot: (args) => {
      if (typeof args['path'] !== 'string') throw new Error('argument path must be a string');
      memoryAfterGc();
      return writeHeapSnapshot(args['path']);
    },
    publish,
    counter: () => server.counterStats(),
    observed: () => server.observedMessages?.() ?? 0,
  },
  { port: server.port, pid: process.pid },
);
