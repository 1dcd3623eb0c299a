/**
 * Every knob of a run. `BENCH_QUICK=1` shrinks everything to about a minute; any knob can also
 * be set on its own through the environment (comma lists for sizes).
 */
import { BACKEND_IDS, parseBackendList } from './lib/backends.js';

const quick = process.env['BENCH_QUICK'] === '1';

function numberEnv(key: string, full: number, fast: number): number {
  const raw = process.env[key];
  return raw ? Number(raw) : quick ? fast : full;
}

function listEnv(key: string, full: number[], fast: number[]): number[] {
  const raw = process.env[key];
  return raw ? raw.split(',').map(Number) : quick ? fast : full;
}

export const config = {
  quick,
  throughputCount: numberEnv('THR_COUNT', 200_000, 20_000),
  fanoutSizes: listEnv('FANOUT_NS', [100, 1000, 5000], [100, 1000]),
  fanoutEvents: numberEnv('FAN_EVENTS', 200, 40),
  fanoutRate: numberEnv('FAN_RATE', 20, 20),
  /** A delivery not received this long after the last publish is lost. */
  graceMs: numberEnv('GRACE_MS', 5_000, 5_000),
  memorySizes: listEnv('MEM_NS', [1000, 5000], [200, 1000]),
  /** If set, the idle-memory server writes a heap snapshot here at the baseline and at every measured size. */
  heapSnapshotDir: process.env['BENCH_HEAP_SNAPSHOT_DIR'] || null,
  /** Subscriptions added on ONE connection (trpc-sse multiplexed, wsLink) for the per-subscription cost. */
  sharedSubscriptions: numberEnv('SHARED_SUBS', 1000, 200),
  connectIters: numberEnv('CONNECT_ITERS', 200, 30),
  connectWarmup: numberEnv('CONNECT_WARMUP', 10, 5),
  stormClients: numberEnv('STORM_N', 2000, 300),
  /**
   * Counter period during the storm: 1 event/s. The storm measures reconnects, not fan-out, so
   * no transport may saturate: tRPC's stock SSE server needs ~0.35 ms of CPU per delivery with
   * 2,000 streams open, so at 2/s it saturates (and accepts new connections only a few per
   * second). A restart still costs every client at least one value, which it must get replayed.
   */
  stormPeriodMs: numberEnv('STORM_PERIOD_MS', 1000, 1000),
  /** Longest wait for every subscriber to resume after the restart. */
  stormResumeTimeoutMs: numberEnv('STORM_TIMEOUT_MS', 60_000, 20_000),
  /** Pause before a measurement, so the server is idle (sockets settled, timers run). */
  settleMs: numberEnv('SETTLE_MS', 1000, 300),
  /** Stop starting new cases past this (the run still reports what it has). */
  suiteBudgetMs: numberEnv('SUITE_MAX_S', 16 * 60, 4 * 60) * 1000,
  /** Observability scenario: fan-out size, and rounds of each setting (off and on alternate). */
  observabilitySubscribers: numberEnv('OBS_N', 1000, 1000),
  observabilityRounds: numberEnv('OBS_ROUNDS', 4, 2),
  /** Multi-process scenario: subscribers over all server processes (it reuses FAN_EVENTS and FAN_RATE). */
  multiProcessSubscribers: numberEnv('MP_N', 1000, 1000),
  /** Multi-process scenario: the backends, in table order (`memory` is the one-process reference). */
  multiProcessBackends: parseBackendList(process.env['MP_BACKENDS'] ?? BACKEND_IDS.join(',')),
  /** Publish throughput: events of the one sequential publisher. */
  publishSequential: numberEnv('MP_PUBLISH_SEQ', 5_000, 1_000),
  /** Publish throughput: events over all the concurrent publishers, and how many there are (one topic each). */
  publishConcurrent: numberEnv('MP_PUBLISH_CONC', 20_000, 4_000),
  publishTopics: numberEnv('MP_TOPICS', 16, 16),
  /** HTTP/2 scenario: subscriptions on the one client, and events per `stream` subscription in its throughput part (it reuses FAN_EVENTS and FAN_RATE). */
  h2Subscriptions: numberEnv('H2_SUBS', 100, 100),
  h2EventsPerStream: numberEnv('H2_EVENTS_PER_STREAM', 2_000, 200),
  /** Browser scenario: events of each measured stream, measured streams (rounds; medians reported), events of the warm-up stream before them in the same page. */
  browserEvents: numberEnv('BROWSER_EVENTS', 100_000, 30_000),
  browserRounds: numberEnv('BROWSER_ROUNDS', 5, 3),
  browserWarmupEvents: numberEnv('BROWSER_WARMUP', 20_000, 10_000),
  only: process.env['ONLY'] ? process.env['ONLY'].split(',') : null,
  /** Where latest.{json,md,svg} go instead of bench/results/ (for a run that must not replace the committed results). */
  resultsDir: process.env['BENCH_RESULTS_DIR'] ?? null,
  transports: process.env['TRANSPORTS'] ? process.env['TRANSPORTS'].split(',') : null,
};

export type Config = typeof config;
