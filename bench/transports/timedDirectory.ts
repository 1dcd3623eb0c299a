/**
 * A connection directory that times its hand-overs: a control request that reached this
 * process for a connection another process holds goes through `forward`, and the time until
 * the owner's answer came back is the directory's round trip (the store, the owner, the store
 * again). Everything else is passed through untouched.
 */
import type { ConnectionDirectory } from 'trpc-sse/server';
import { nowUs } from '../lib/clock.js';
import { summarizeUs } from '../lib/stats.js';

/** Samples kept between two reports; a longer run keeps the first ones (memory stays bounded). */
const MAX_SAMPLES = 100_000;

export class TimedDirectory implements ConnectionDirectory {
  readonly #inner: ConnectionDirectory;
  #forwardUs: number[] = [];
  #unanswered = 0;

  constructor(inner: ConnectionDirectory) {
    this.#inner = inner;
  }

  announce(connectionId: string): Promise<void> | void {
    return this.#inner.announce(connectionId);
  }

  withdraw(connectionId: string): void {
    this.#inner.withdraw(connectionId);
  }

  serve(handler: Parameters<ConnectionDirectory['serve']>[0]): void {
    this.#inner.serve(handler);
  }

  async forward(request: Parameters<ConnectionDirectory['forward']>[0]): ReturnType<ConnectionDirectory['forward']> {
    const t0 = nowUs();
    const answer = await this.#inner.forward(request).catch((error: unknown) => {
      this.#unanswered++;
      throw error;
    });
    if (answer === null) this.#unanswered++;
    else if (this.#forwardUs.length < MAX_SAMPLES) this.#forwardUs.push(nowUs() - t0);
    return answer;
  }

  /** Hand-overs answered by their owner since the last report, their round trips, and those that got no owner; starts a new count. */
  report() {
    const summary = summarizeUs(Float64Array.from(this.#forwardUs));
    const unanswered = this.#unanswered;
    this.#forwardUs = [];
    this.#unanswered = 0;
    return { forwarded: summary.samples, unanswered, p50Ms: summary.p50Ms, p99Ms: summary.p99Ms };
  }
}
