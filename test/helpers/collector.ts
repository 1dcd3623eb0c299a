import { expect } from 'vitest';
import type { TestClientError } from './clientError.js';

interface Waiter {
  check: () => boolean;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Records what a subscription delivers and lets a test await a condition on it: every
 * recorded event re-checks the waiting conditions, so nothing sleeps or polls.
 */
export class Collector<T = unknown> {
  readonly data: T[] = [];
  readonly states: Array<{ state: string; error: TestClientError | null }> = [];
  readonly errors: TestClientError[] = [];
  started = 0;
  stopped = 0;
  completed = false;
  readonly #waiters = new Set<Waiter>();

  /** Callbacks for `client.proc.subscribe(input, collector.handlers())`. */
  handlers() {
    return {
      onStarted: () => this.#push(() => this.started++),
      onData: (value: T) => this.#push(() => this.data.push(value)),
      onError: (error: TestClientError) => this.#push(() => this.errors.push(error)),
      onStopped: () => this.#push(() => this.stopped++),
      onComplete: () => this.#push(() => (this.completed = true)),
      onConnectionStateChange: (s: { state: string; error: TestClientError | null }) =>
        this.#push(() => this.states.push({ state: s.state, error: s.error })),
    };
  }

  /** Resolves once `check()` holds; rejects with `what` after `timeoutMs`. */
  until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(
            new Error(
              `Timed out waiting for ${what}; have ${this.data.length} data, states ${this.states.map((s) => s.state).join('>')}, errors ${this.errors.map((e) => e.message).join('; ')}`,
            ),
          );
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  untilData(count: number, timeoutMs?: number): Promise<void> {
    return this.until(() => this.data.length >= count, `${count} data`, timeoutMs);
  }

  untilError(timeoutMs?: number): Promise<TestClientError> {
    return this.until(() => this.errors.length > 0, 'an error', timeoutMs).then(() => this.errors[0]!);
  }

  #push(record: () => unknown): void {
    record();
    for (const waiter of [...this.#waiters]) {
      if (waiter.check()) {
        clearTimeout(waiter.timer);
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
}

/**
 * The outcome every suite checks for a `count`-event tracked counter (`{ n }` values with ids
 * '0', '1', …): all events once, started and stopped once, completed, no error.
 */
export function expectTrackedCounterCompleted<T>(c: Collector<T>, count: number): void {
  expect(c.data).toEqual(Array.from({ length: count }, (_, n) => ({ id: String(n), data: { n } })));
  expect(c.started).toBe(1);
  expect(c.stopped).toBe(1);
  expect(c.errors).toEqual([]);
}
