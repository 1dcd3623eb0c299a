/**
 * Upper bounds of the delivery-lag buckets, in seconds (Prometheus' default buckets, with 1 ms
 * added: in-process fan-out takes well under 5 ms).
 */
export const LAG_BUCKETS_SECONDS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const BUCKETS_MS = LAG_BUCKETS_SECONDS.map((seconds) => seconds * 1000);

/** A histogram's state, Prometheus-style: `counts[i]` observations ≤ `buckets[i]` seconds (cumulative). */
export interface HistogramSnapshot {
  /** Upper bounds in seconds, ascending; `+Inf` is implied (its count is `count`). */
  buckets: readonly number[];
  /** Cumulative: observations at or below each bound. */
  counts: number[];
  count: number;
  /** Sum of every observation, in seconds. */
  sum: number;
}

/** Fixed buckets, one array of counts: observing is a short scan and an increment, with no allocation. */
export class LagHistogram {
  /** Per bucket (not cumulative); the last slot is above every bound. */
  readonly #counts = new Array<number>(BUCKETS_MS.length + 1).fill(0);
  #count = 0;
  #sumMs = 0;

  observe(ms: number): void {
    let i = 0;
    while (i < BUCKETS_MS.length && ms > BUCKETS_MS[i]!) i++;
    this.#counts[i]!++;
    this.#count++;
    this.#sumMs += ms;
  }

  snapshot(): HistogramSnapshot {
    const counts: number[] = [];
    let running = 0;
    for (let i = 0; i < BUCKETS_MS.length; i++) counts.push((running += this.#counts[i]!));
    return { buckets: LAG_BUCKETS_SECONDS, counts, count: this.#count, sum: this.#sumMs / 1000 };
  }
}
