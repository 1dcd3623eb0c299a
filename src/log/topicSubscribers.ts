import { Wakeup } from './wakeup.js';

/** A reader on the push path, as its topic sees it. */
export interface PushedTopicReader {
  /** Something new was published: deliver what the reader has not had yet. */
  deliver(): void;
  /** Ends the reader; `complete` tells its sink. */
  end(complete: boolean): void;
}

/**
 * Who reads a topic in this process, for both logs: readers that pull (async iteration) wait
 * for the next event on a wakeup; readers on the push path are delivered to directly, in the
 * turn the event arrives.
 */
export class TopicSubscribers {
  readonly #wakeup = new Wakeup();
  readonly #pushed = new Set<PushedTopicReader>();

  get count(): number {
    return this.#wakeup.waiting + this.#pushed.size;
  }

  /** A pulling reader: resolves at the next {@link announce}, or when `signal` aborts. */
  wait(signal: AbortSignal | undefined): Promise<void> {
    return this.#wakeup.wait(signal);
  }

  add(reader: PushedTopicReader): void {
    this.#pushed.add(reader);
  }

  delete(reader: PushedTopicReader): void {
    this.#pushed.delete(reader);
  }

  /** Something new (an event, or a new epoch): every reader looks. */
  announce(): void {
    this.#wakeup.wake();
    for (const reader of this.#pushed) reader.deliver();
  }

  /** The log closed: pulling readers wake and see it; pushed readers complete. */
  closeAll(): void {
    this.#wakeup.wake();
    for (const reader of [...this.#pushed]) reader.end(true);
  }
}
