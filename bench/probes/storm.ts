/**
 * Scenario 5, client side: `n` clients on the tracked `counter`, watched across a server
 * crash and restart. Per subscription: the last seq, gaps (a seq skipped = an event lost),
 * duplicates, and when the first event from the new server generation arrived.
 */
import { nowUs, sleep } from '../lib/clock.js';
import { percentile } from '../lib/stats.js';
import { asCounter } from '../procedures/events.js';
import type { BenchClient, ClientFactory } from '../transports/types.js';

interface Watch {
  started: boolean;
  firstSeq: number;
  lastSeq: number;
  gaps: number;
  duplicates: number;
  /** When the first event from a server generation above 1 arrived (µs, shared clock). */
  resumedAtUs: number;
  errors: number;
  completed: boolean;
}

export class Storm {
  readonly #factory: ClientFactory;
  readonly #watches: Watch[] = [];
  readonly #clients: Array<{ client: BenchClient; unsubscribe: () => void }> = [];
  readonly #errorSamples = new Set<string>();

  constructor(factory: ClientFactory) {
    this.#factory = factory;
  }

  async open(n: number, batch: number, timeoutMs: number) {
    const t0 = nowUs();
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < n && Date.now() < deadline; i += batch) {
      const waits: Array<Promise<void>> = [];
      for (let j = i; j < Math.min(n, i + batch); j++) waits.push(this.#openOne());
      await Promise.race([Promise.all(waits), sleep(Math.max(0, deadline - Date.now()))]);
    }
    return {
      opened: this.#watches.length,
      started: this.#watches.filter((w) => w.started).length,
      withData: this.#watches.filter((w) => w.firstSeq >= 0).length,
      errors: this.#watches.filter((w) => w.errors > 0).length,
      completed: this.#watches.filter((w) => w.completed).length,
      errorSamples: [...this.#errorSamples],
      openMs: (nowUs() - t0) / 1e3,
    };
  }

  #openOne(): Promise<void> {
    const w: Watch = {
      started: false,
      firstSeq: -1,
      lastSeq: -1,
      gaps: 0,
      duplicates: 0,
      resumedAtUs: 0,
      errors: 0,
      completed: false,
    };
    this.#watches.push(w);
    const client = this.#factory();
    return new Promise<void>((resolve) => {
      const unsubscribe = client.subscribe(
        'counter',
        {},
        {
          onStarted: () => {
            w.started = true;
            resolve();
          },
          onData: (value) => {
            const event = asCounter(value);
            if (!event) return;
            if (w.firstSeq < 0) w.firstSeq = event.seq;
            else if (event.seq <= w.lastSeq) {
              w.duplicates++;
              return;
            } else if (event.seq > w.lastSeq + 1) w.gaps += event.seq - w.lastSeq - 1;
            w.lastSeq = event.seq;
            if (event.g > 1 && !w.resumedAtUs) w.resumedAtUs = nowUs();
          },
          onError: (error) => {
            w.errors++;
            if (this.#errorSamples.size < 5)
              this.#errorSamples.add((error instanceof Error ? error.message : String(error)).slice(0, 200));
            resolve();
          },
          onComplete: () => {
            w.completed = true;
            resolve();
          },
        },
      );
      this.#clients.push({ client, unsubscribe });
    });
  }

  status() {
    let withData = 0;
    let resumed = 0;
    let minLastSeq = Infinity;
    for (const w of this.#watches) {
      if (w.firstSeq >= 0) withData++;
      if (w.resumedAtUs) resumed++;
      minLastSeq = Math.min(minLastSeq, w.lastSeq);
    }
    return { n: this.#watches.length, withData, resumed, minLastSeq: Number.isFinite(minLastSeq) ? minLastSeq : -1 };
  }

  /** Summary relative to the crash time `killedAtUs` (the orchestrator's clock = ours). */
  report(killedAtUs: number, target: number) {
    const resumeMs: number[] = [];
    let gaps = 0;
    let duplicates = 0;
    let errors = 0;
    let completed = 0;
    let behindTarget = 0;
    let noData = 0;
    for (const w of this.#watches) {
      if (w.resumedAtUs) resumeMs.push((w.resumedAtUs - killedAtUs) / 1e3);
      gaps += w.gaps;
      duplicates += w.duplicates;
      errors += w.errors;
      if (w.completed) completed++;
      // Events up to `target` exist; whatever this subscriber has not got of them is missing too.
      if (w.firstSeq < 0) noData++;
      else if (w.lastSeq < target) behindTarget += target - w.lastSeq;
    }
    resumeMs.sort((a, b) => a - b);
    return {
      subscribers: this.#watches.length,
      resumed: resumeMs.length,
      notResumed: this.#watches.length - resumeMs.length,
      resumeP50Ms: percentile(resumeMs, 50),
      resumeP99Ms: percentile(resumeMs, 99),
      resumeMaxMs: resumeMs.length ? resumeMs[resumeMs.length - 1]! : NaN,
      lost: gaps + behindTarget,
      gaps,
      behindTarget,
      noData,
      duplicates,
      errors,
      completed,
      errorSamples: [...this.#errorSamples],
    };
  }

  close(): void {
    for (const { client, unsubscribe } of this.#clients) {
      unsubscribe();
      client.close();
    }
  }
}
