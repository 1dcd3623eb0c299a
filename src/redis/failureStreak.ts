/**
 * A background loop's run of failures (Redis away, a cluster refusing a command): reported
 * once when it starts, so an operator sees a read that keeps failing (CROSSSLOT, CLUSTERDOWN)
 * instead of a silent retry loop, and told apart from the next run once a read succeeds.
 * Each failure waits a little longer before the next try.
 */
export class FailureStreak {
  #failures = 0;
  readonly #report: (error: unknown) => void;
  readonly #what: string;

  constructor(what: string, report: ((error: unknown) => void) | undefined) {
    this.#what = what;
    this.#report = report ?? defaultReport;
  }

  /** A try failed: reports the first of a run, and resolves after the backoff. */
  failed(cause: unknown): Promise<void> {
    this.report(cause);
    const delay = Math.min(2_000, 50 * 2 ** Math.min(this.#failures, 6));
    // A backoff must not keep a closing process alive.
    return new Promise((resolve) => setTimeout(resolve, delay).unref?.());
  }

  /** A try failed, and the next one comes by itself (a timer): reports the first of a run. */
  report(cause: unknown): void {
    this.#failures++;
    if (this.#failures === 1) {
      const error = new Error(`${this.#what} failed; trying again until it succeeds`, { cause });
      try {
        this.#report(error);
      } catch {
        // A throwing report must not stop the loop it reports on.
      }
    }
  }

  succeeded(): void {
    this.#failures = 0;
  }
}

function defaultReport(error: unknown): void {
  console.warn('trpc-sse:', error);
}
