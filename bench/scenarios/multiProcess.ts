/**
 * 8. Several server processes on a shared backend: per backend, a fresh store
 * (lib/backends.ts), trpc-sse server processes on its event log and connection directory
 * (processes/multiProcessServer.ts) behind a round-robin TCP balancer (lib/balancer.ts), and
 * `multiProcessSubscribers` multiplexed subscribers in one client process, each its own client,
 * through the balancer. Ticks are published through the processes in turn on one schedule;
 * the log carries each to every process. Measured as the fan-out is: latency = receipt −
 * publish time on the shared clock, lost = not received `graceMs` after the last publish.
 * Then, on their own topics, publish throughput: one publisher awaiting each publish, and
 * `publishTopics` publishers at once spread over the processes.
 *
 * The memory log is the reference: one process (its log is that process's own), same balancer.
 */
import { loadavg } from 'node:os';
import type { Config } from '../config.js';
import { startBackend, ensureBackendPrograms, type BackendId, type RunningBackend } from '../lib/backends.js';
import { startBalancer, type Balancer } from '../lib/balancer.js';
import { forkChild, type Child } from '../lib/child.js';
import { cpuSinceUs, nowUs, sleep } from '../lib/clock.js';
import { processTreeCpuUs } from '../lib/processTree.js';
import { TRANSPORTS } from '../transports/registry.js';
import { serverCpuUs } from './fanout.js';
import { startClientChild, type CaseError } from './pair.js';

/** Children end themselves after this even if the orchestrator hangs. */
const CHILD_LIFETIME_MS = 300_000;
/** How far ahead a phase is scheduled, so every process has its command before it starts. */
const LEAD_US = 500_000;

export const BACKEND_LABELS: Record<BackendId, string> = {
  memory: 'memory log, 1 process (reference)',
  redis: 'Redis',
  'redis-cluster': 'Redis Cluster',
  postgres: 'PostgreSQL',
};

interface Share {
  sent: number;
  failed: number;
  failureSamples: string[];
  ackP50Ms: number;
  ackP99Ms: number;
  loopBusy: number;
}

interface Burst {
  published: number;
  failed: number;
  failureSamples: string[];
  startUs: number;
  endUs: number;
}

/** A server process's hand-overs through the directory (transports/timedDirectory.ts). */
interface Forwards {
  forwarded: number;
  unanswered: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** The client's subscribe → first event on one open connection (probes/connect.ts). */
interface Connected {
  iters: number;
  errors: number;
  errorSamples: string[];
  p50Ms: number;
  p99Ms: number;
}

interface Collected {
  expected: number;
  received: number;
  lost: number;
  duplicates: number;
  errors: number;
  errorSamples: string[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface MultiProcessResult extends Collected {
  /** The machine's 1-minute load average when the case started: above the core count, other work competed for the CPU. */
  loadAverage: number;
  processes: number;
  subscribers: number;
  events: number;
  openMs: number;
  /** Per server process, in fork order. */
  perProcess: Array<{
    subscribers: number;
    /** Its CPU during the fan-out (publishing its share, reading the log, writing to its streams) ÷ the deliveries it made. */
    cpuUsPerDelivery: number;
    cpuVia: string;
    loopBusyPct: number;
    rssMB: number;
  }>;
  /** The store's CPU (every redis-server of it, or the postmaster and its backends) over the fan-out ÷ ticks published; NaN for the memory log. */
  storeCpuUsPerEvent: number;
  /** The store's CPU over the concurrent publishes ÷ events published then. */
  storeCpuUsPerPublish: number;
  /** The balancer's CPU (it runs in the orchestrator, which does little else) ÷ deliveries. */
  balancerCpuUsPerDelivery: number;
  /** TCP connections the balancer handed to each process over the case (streams, then the control phase's). */
  balancedConnections: number[];
  /** Publish → the log's acknowledgement, over every fan-out publish of every process. */
  publishAckP50Ms: number;
  publishAckP99Ms: number;
  publishFailures: number;
  /** Subscribe → first event on an open connection (a control request each way per iteration; a failed one is counted in `controlErrors`). */
  controlSubscribeP50Ms: number;
  controlSubscribeP99Ms: number;
  controlErrors: number;
  controlErrorSamples: string[];
  /** Control requests the processes handed to the owner through the directory during that, per process. */
  controlForwarded: number[];
  /** Hand-overs that found no owner or failed. */
  controlUnanswered: number;
  /** The directory's round trip (the process that handed over the most): receiving process → owner → back. */
  forwardP50Ms: number | null;
  forwardP99Ms: number | null;
  /** One publisher, each publish awaited: events/s. */
  sequentialPublishesPerSec: number;
  /** `publishTopics` publishers (each awaiting its own) spread over the processes: events/s over all. */
  concurrentPublishesPerSec: number;
  concurrentTopics: number;
  publishFailureSamples: string[];
}

function forkServer(backend: BackendId, url: string): Child {
  return forkChild('multiProcessServer.ts', [backend], {
    BENCH_BACKEND_URL: url,
    BENCH_LIFETIME_MS: String(CHILD_LIFETIME_MS),
  });
}

/** Polls every process until together they hold `n` live `onTick` subscriptions; returns each one's count. */
async function waitForSubscribers(servers: Child[], n: number, timeoutMs = 60_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let seen: number[] = [];
  while (Date.now() < deadline) {
    seen = await Promise.all(servers.map((s) => s.call<number>('subs')));
    if (seen.reduce((a, b) => a + b, 0) === n) return seen;
    await sleep(50);
  }
  throw new Error(`server processes hold ${seen.join(' + ')} subscriptions, expected ${n}`);
}

/** Publishers on every process at once from one moment; events/s over the whole span. */
async function burst(servers: Child[], topicsEach: number, perTopic: number, timeoutMs: number) {
  const startAtUs = nowUs() + LEAD_US;
  const bursts = await Promise.all(
    servers.map((s, i) =>
      s.call<Burst>(
        'publishBurst',
        { topics: topicsEach, perTopic, startAtUs, timeoutMs, topicPrefix: `burst${i}` },
        timeoutMs + 30_000,
      ),
    ),
  );
  const published = bursts.reduce((a, b) => a + b.published, 0);
  const spanUs = Math.max(...bursts.map((b) => b.endUs)) - Math.min(...bursts.map((b) => b.startUs));
  return {
    published,
    perSec: published / (spanUs / 1e6),
    failed: bursts.reduce((a, b) => a + b.failed, 0),
    samples: bursts.flatMap((b) => b.failureSamples),
  };
}

/** The store's CPU so far, in µs; NaN when it has no processes of its own (the memory log). */
const storeCpuUs = (pids: readonly number[]): number => (pids.length ? processTreeCpuUs(pids) : NaN);

async function measure(
  cfg: Config,
  servers: Child[],
  storePids: readonly number[],
  balancer: Balancer,
  client: Child,
): Promise<Omit<MultiProcessResult, 'loadAverage'>> {
  const n = cfg.multiProcessSubscribers;
  const events = cfg.fanoutEvents;
  const opened = await client.call<{ started: number; openMs: number; timedOut: boolean; errors: number }>(
    'open',
    { n, shared: false, record: events, batch: 100, timeoutMs: 150_000 },
    170_000,
  );
  if (opened.timedOut) throw new Error(`only ${opened.started}/${n} subscriptions started (${opened.errors} errors)`);
  const subsPerProcess = await waitForSubscribers(servers, n);
  await sleep(cfg.settleMs);

  const cpu0 = await Promise.all(servers.map((s) => serverCpuUs(s)));
  const store0 = storeCpuUs(storePids);
  const balancer0 = process.cpuUsage();
  await client.call('markCpu');
  const publishMs = (events / cfg.fanoutRate) * 1000;
  const startAtUs = nowUs() + LEAD_US;
  const shares = await Promise.all(
    servers.map((s, i) =>
      s.call<Share>(
        'publishShare',
        { count: events, rate: cfg.fanoutRate, offset: i, stride: servers.length, startAtUs },
        publishMs + 60_000,
      ),
    ),
  );
  const r = await client.call<Collected>('collect', { graceMs: cfg.graceMs }, cfg.graceMs + 60_000);
  const balancerUs = cpuSinceUs(balancer0);
  const storeFanOutUs = storeCpuUs(storePids) - store0;
  const cpu1 = await Promise.all(servers.map((s) => serverCpuUs(s)));
  const rss = await Promise.all(servers.map((s) => s.call<number>('memNow', {}, 20_000).catch(() => NaN)));

  // Control requests on one open connection, through the balancer: its stream went to one
  // process and its requests' keep-alive connection, balanced on its own, most likely to the
  // other, which hands each to the owner through the directory (counted, not assumed).
  await Promise.all(servers.map((s) => s.call<Forwards>('forwards')));
  const control = await client.call<Connected>(
    'connect',
    { iters: cfg.connectIters, warmup: cfg.connectWarmup, fresh: false, timeoutMs: 10_000 },
    150_000,
  );
  const forwards = await Promise.all(servers.map((s) => s.call<Forwards>('forwards')));
  const busiest = forwards.reduce((a, b) => (b.forwarded > a.forwarded ? b : a));

  // Throughput on topics nobody reads: what publishing costs, apart from delivering.
  const timeoutMs = 60_000;
  const sequential = await burst(servers.slice(0, 1), 1, cfg.publishSequential, timeoutMs);
  const topicsEach = Math.max(1, Math.round(cfg.publishTopics / servers.length));
  const perTopic = Math.max(1, Math.round(cfg.publishConcurrent / (topicsEach * servers.length)));
  const storeBurst0 = storeCpuUs(storePids);
  const concurrent = await burst(servers, topicsEach, perTopic, timeoutMs);
  const storeBurstUs = storeCpuUs(storePids) - storeBurst0;
  const concurrentPublished = Math.max(1, concurrent.published);

  // NaN (no publish acknowledged) arrives as null over IPC: left out of the figures.
  const acks = shares.map((s) => s.ackP50Ms).filter((v) => typeof v === 'number');
  const ackP99s = shares.map((s) => s.ackP99Ms).filter((v) => typeof v === 'number');
  return {
    ...r,
    processes: servers.length,
    subscribers: n,
    events,
    openMs: opened.openMs,
    perProcess: servers.map((_, i) => ({
      subscribers: subsPerProcess[i]!,
      cpuUsPerDelivery: (cpu1[i]!.us - cpu0[i]!.us) / Math.max(1, subsPerProcess[i]! * events),
      cpuVia: cpu0[i]!.via === cpu1[i]!.via ? cpu0[i]!.via : `${cpu0[i]!.via}+${cpu1[i]!.via}`,
      loopBusyPct: shares[i]!.loopBusy * 100,
      rssMB: rss[i]! / 2 ** 20,
    })),
    balancerCpuUsPerDelivery: balancerUs / Math.max(1, r.expected),
    storeCpuUsPerEvent: storeFanOutUs / events,
    storeCpuUsPerPublish: storeBurstUs / concurrentPublished,
    balancedConnections: [...balancer.handedOut],
    // Each process timed its own publishes: the mean of their medians, the worst of their p99s.
    publishAckP50Ms: acks.length ? acks.reduce((a, b) => a + b, 0) / acks.length : NaN,
    publishAckP99Ms: ackP99s.length ? Math.max(...ackP99s) : NaN,
    publishFailures: shares.reduce((a, s) => a + s.failed, 0) + sequential.failed + concurrent.failed,
    controlSubscribeP50Ms: control.p50Ms,
    controlSubscribeP99Ms: control.p99Ms,
    controlErrors: control.errors,
    controlErrorSamples: control.errorSamples,
    controlForwarded: forwards.map((f) => f.forwarded),
    controlUnanswered: forwards.reduce((a, f) => a + f.unanswered, 0),
    forwardP50Ms: busiest.p50Ms,
    forwardP99Ms: busiest.p99Ms,
    sequentialPublishesPerSec: sequential.perSec,
    concurrentPublishesPerSec: concurrent.perSec,
    concurrentTopics: topicsEach * servers.length,
    publishFailureSamples: [
      ...shares.flatMap((s) => s.failureSamples),
      ...sequential.samples,
      ...concurrent.samples,
    ].slice(0, 5),
  };
}

/** One backend's case; a failure (no store, a process that died) becomes the case's `{ error }`. */
export async function runMultiProcess(backend: BackendId, cfg: Config): Promise<MultiProcessResult | CaseError> {
  const mux = TRANSPORTS.find((t) => t.id === 'mux')!;
  const loadAverage = loadavg()[0]!;
  let store: RunningBackend | undefined;
  const servers: Child[] = [];
  let balancer: Balancer | undefined;
  let client: Child | undefined;
  try {
    if (backend !== 'memory') ensureBackendPrograms();
    store = await startBackend(backend);
    const processes = backend === 'memory' ? 1 : 2;
    for (let i = 0; i < processes; i++) servers.push(forkServer(backend, store.url));
    const ready = (await Promise.all(servers.map((s) => s.ready))) as Array<{ port: number }>;
    balancer = await startBalancer(ready.map((r) => r.port));
    client = startClientChild(mux, balancer.port);
    await client.ready;
    const result = await measure(cfg, servers, await store.pids(), balancer, client);
    return { loadAverage, ...result, ...(await client.call<object>('diagnostics')) };
  } catch (error) {
    const stderr = [client?.stderrTail(), ...servers.map((s) => s.stderrTail())]
      .filter(Boolean)
      .join('\n')
      .slice(-1500);
    return {
      error: (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300),
      ...(stderr ? { stderr } : {}),
    };
  } finally {
    await client?.stop();
    await Promise.all(servers.map((s) => s.stop()));
    await balancer?.close();
    await store?.stop();
  }
}
