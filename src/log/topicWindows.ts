import type { TopicWindow } from './topicWindow.js';

/**
 * The topic windows a process holds for a shared store, by key: one per topic, shared by the
 * process's readers, opened by the first and dropped when the last one leaves.
 */
export class TopicWindows<T extends TopicWindow<unknown>> {
  readonly #held = new Map<string, T>();
  readonly #opening = new Map<string, Promise<T>>();

  get size(): number {
    return this.#held.size;
  }

  get(key: string): T | undefined {
    return this.#held.get(key);
  }

  values(): IterableIterator<T> {
    return this.#held.values();
  }

  entries(): IterableIterator<[string, T]> {
    return this.#held.entries();
  }

  /** The window of `key` being opened, if it is (settles once it is read for the first time). */
  opening(key: string): Promise<T> | undefined {
    return this.#opening.get(key);
  }

  /**
   * The window of `key`, with one more reader; {@link release} it once. The first reader
   * opens it: `create` makes it from where the store stands, it is held from then on (later
   * readers share it), and `started` is awaited before any reader gets it.
   */
  acquire(key: string, create: () => Promise<T>, started: (window: T) => Promise<void>): Promise<T> {
    const existing = this.#held.get(key);
    if (existing) {
      existing.readers++;
      return Promise.resolve(existing);
    }
    let pending = this.#opening.get(key);
    if (!pending) {
      pending = (async () => {
        try {
          const window = await create();
          this.#held.set(key, window);
          await started(window);
          return window;
        } finally {
          this.#opening.delete(key);
        }
      })();
      this.#opening.set(key, pending);
    }
    return pending.then((window) => {
      // Released by every other reader while it was being opened (and dropped): start over,
      // or this reader would hold a window nobody feeds.
      if (this.#held.get(key) !== window) return this.acquire(key, create, started);
      window.readers++;
      return window;
    });
  }

  release(key: string, window: T): void {
    window.readers--;
    if (window.readers <= 0 && this.#held.get(key) === window) this.#held.delete(key);
  }

  /** The log closed: every reader ends, and no window is held. */
  closeAll(): void {
    for (const window of this.#held.values()) window.subscribers.closeAll();
    this.#held.clear();
  }
}
