import type { CounterEvent } from './events.js';

/** Safety bound: no counter subscription yields more than this. */
const MAX_EVENTS_PER_SUBSCRIPTION = 1_000_000;

/**
 * The reconnect storm's deterministic tracked counter. Event `seq` exists from the moment
 * `t0 + seq · periodMs` (wall clock), in every server process of a run, so a server that was
 * killed and started again serves exactly the same sequence: a client resuming from id `k`
 * gets `k+1, k+2, …` (the ones it missed while the server was down come at once), and any
 * gap it sees is a real loss. A subscription without an id starts from "now".
 */
export class Counter {
  readonly #t0: number;
  readonly #periodMs: number;
  readonly #generation: number;
  readonly #waiters = new Set<() => void>();
  #head: number;
  #active = 0;
  /** Subscriptions that came with a resume id, and the values they were owed at once (replayed). */
  #resumes = 0;
  #replayed = 0;

  constructor(opts: { t0: number; periodMs: number; generation: number }) {
    this.#t0 = opts.t0;
    this.#periodMs = opts.periodMs;
    this.#generation = opts.generation;
    this.#head = this.#compute();
    // A few checks per period keep the head within a quarter period of the clock.
    setInterval(() => this.#advance(), Math.max(5, opts.periodMs / 4)).unref();
  }

  get head(): number {
    return this.#head;
  }

  get active(): number {
    return this.#active;
  }

  stats(): { head: number; resumes: number; replayed: number } {
    return { head: this.#head, resumes: this.#resumes, replayed: this.#replayed };
  }

  #compute(): number {
    return Math.floor((Date.now() - this.#t0) / this.#periodMs);
  }

  #advance(): void {
    const head = this.#compute();
    if (head <= this.#head) return;
    this.#head = head;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  async *subscribe<T>(
    signal: AbortSignal | undefined,
    lastEventId: string | null | undefined,
    track: (id: string, data: CounterEvent) => T,
  ): AsyncGenerator<T> {
    const resumeFrom = lastEventId && /^\d+$/.test(lastEventId) ? Number(lastEventId) : null;
    let next = resumeFrom === null ? this.#head + 1 : resumeFrom + 1;
    if (resumeFrom !== null) {
      this.#resumes++;
      this.#replayed += Math.max(0, this.#head - resumeFrom);
    }
    let wake: (() => void) | null = null;
    const onAbort = (): void => wake?.();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#active++;
    try {
      for (let sent = 0; sent < MAX_EVENTS_PER_SUBSCRIPTION && !signal?.aborted;) {
        if (next <= this.#head) {
          yield track(String(next), { seq: next, g: this.#generation });
          next++;
          sent++;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          this.#waiters.add(resolve);
        });
        wake = null;
      }
    } finally {
      this.#active--;
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
