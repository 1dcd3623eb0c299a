/**
 * Readers of a topic waiting for its next event. One `wake()` releases them all (they each
 * re-read the topic); a reader's abort signal releases it alone.
 */
export class Wakeup {
  readonly #waiters = new Set<() => void>();

  get waiting(): number {
    return this.#waiters.size;
  }

  /** Resolves at the next {@link wake}, or when `signal` aborts. */
  wait(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  wake(): void {
    for (const done of [...this.#waiters]) done();
  }
}
