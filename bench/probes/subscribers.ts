/**
 * Scenarios 2 and 3, client side: many `onTick` subscribers in this process. Each subscriber
 * is its own client (its own connection) unless `shared` is set, in which case they all go
 * through one client (trpc-sse multiplexed: one stream; wsLink: one socket).
 */
import { cpuSinceUs, nowUs, sleep } from '../lib/clock.js';
import { summarizeUs } from '../lib/stats.js';
import { asTick } from '../procedures/events.js';
import type { BenchClient, ClientFactory } from '../transports/types.js';

interface Recording {
  events: number;
  /** Per subscriber, per event seq: receipt − send in µs; NaN = not received. */
  latencyUs: Float64Array[];
  received: number;
  duplicates: number;
}

export class SubscriberPool {
  readonly #factory: ClientFactory;
  #closers: Array<() => void> = [];
  #shared: BenchClient | null = null;
  #recording: Recording | null = null;
  #errors = 0;
  #errorSamples = new Set<string>();
  #cpuMark: NodeJS.CpuUsage | null = null;

  constructor(factory: ClientFactory) {
    this.#factory = factory;
  }

  #noteError(error: unknown): void {
    this.#errors++;
    if (this.#errorSamples.size < 5)
      this.#errorSamples.add((error instanceof Error ? error.message : String(error)).slice(0, 200));
  }

  /**
   * Opens `n` more subscribers, `batch` at a time, each batch waiting until the server has
   * started every subscription in it. `record` = events to record per subscriber (fan-out).
   */
  async open(opts: { n: number; shared: boolean; record: number; batch: number; timeoutMs: number }) {
    if (opts.record > 0 && !this.#recording) {
      this.#recording = { events: opts.record, latencyUs: [], received: 0, duplicates: 0 };
    }
    const t0 = nowUs();
    const deadline = Date.now() + opts.timeoutMs;
    let opened = 0;
    let started = 0;
    for (let i = 0; i < opts.n && Date.now() < deadline; i += opts.batch) {
      const waits: Array<Promise<void>> = [];
      for (let j = i; j < Math.min(opts.n, i + opts.batch); j++) {
        waits.push(
          this.#openOne(opts.shared).then(() => {
            started++;
          }),
        );
        opened++;
      }
      const left = Math.max(0, deadline - Date.now());
      const allStarted = await Promise.race([Promise.all(waits).then(() => true), sleep(left).then(() => false)]);
      if (!allStarted) break;
    }
    return { opened, started, openMs: (nowUs() - t0) / 1e3, errors: this.#errors, timedOut: started < opts.n };
  }

  #openOne(shared: boolean): Promise<void> {
    let client: BenchClient;
    if (shared) client = this.#shared ??= this.#factory();
    else client = this.#factory();
    const onData = this.#recorder();
    return new Promise<void>((resolve) => {
      const unsubscribe = client.subscribe('onTick', undefined, {
        onStarted: () => resolve(),
        onData,
        onError: (error) => {
          this.#noteError(error);
          resolve();
        },
        onComplete: () => resolve(),
      });
      this.#closers.push(() => {
        unsubscribe();
        if (!shared) client.close();
      });
    });
  }

  #recorder(): (value: unknown) => void {
    const rec = this.#recording;
    if (!rec) return () => undefined;
    const latency = new Float64Array(rec.events).fill(NaN);
    rec.latencyUs.push(latency);
    return (value) => {
      const tick = asTick(value);
      if (!tick || tick.seq >= rec.events) return;
      if (!Number.isNaN(latency[tick.seq]!)) {
        rec.duplicates++;
        return;
      }
      latency[tick.seq] = nowUs() - tick.ts;
      rec.received++;
    };
  }

  markCpu(): void {
    this.#cpuMark = process.cpuUsage();
  }

  /** Waits until every delivery arrived or `graceMs` passed (called right after the last publish). */
  async collect(graceMs: number) {
    const rec = this.#recording;
    if (!rec) throw new Error('nothing recorded');
    const expected = rec.latencyUs.length * rec.events;
    const deadline = Date.now() + graceMs;
    while (rec.received < expected && Date.now() < deadline) await sleep(20);
    const clientCpuUs = this.#cpuMark ? cpuSinceUs(this.#cpuMark) : NaN;
    const all = new Float64Array(rec.received);
    let k = 0;
    for (const row of rec.latencyUs) for (const v of row) if (!Number.isNaN(v) && k < all.length) all[k++] = v;
    return {
      subscribers: rec.latencyUs.length,
      expected,
      received: rec.received,
      lost: expected - rec.received,
      duplicates: rec.duplicates,
      errors: this.#errors,
      errorSamples: [...this.#errorSamples],
      clientCpuUsPerDelivery: clientCpuUs / Math.max(1, expected),
      ...summarizeUs(all.subarray(0, k)),
    };
  }

  async closeAll() {
    for (const close of this.#closers) close();
    this.#closers = [];
    this.#shared?.close();
    this.#shared = null;
    this.#recording = null;
    await sleep(200);
    return { errors: this.#errors, errorSamples: [...this.#errorSamples] };
  }
}
