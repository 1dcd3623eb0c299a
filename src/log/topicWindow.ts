import type { TrackedEnvelope } from '@trpc/server';
import { TopicSubscribers } from './topicSubscribers.js';

export interface WindowEntry<P> {
  /** Where the event stands in its topic, in the store's own terms. */
  position: P;
  /** `tracked(id, data)` with the shared value, made once for every local reader. */
  envelope: TrackedEnvelope<unknown>;
}

/**
 * One topic of a shared store (Redis, Postgres) as this process reads it: the recent events,
 * read from the store once per process and fanned out to the local readers from here. A
 * reader further behind reads the store itself. `P` is the store's position.
 */
export abstract class TopicWindow<P> {
  entries: Array<WindowEntry<P>> = [];
  head = 0;
  /** Every event after this position, up to {@link readerAt}, is in the window. */
  contiguousAfter: P;
  /** The last position read from the store. */
  readerAt: P;
  readers = 0;
  readonly subscribers = new TopicSubscribers();
  readonly #maxEntries: number;

  constructor(start: P, maxEntries: number) {
    this.contiguousAfter = start;
    this.readerAt = start;
    this.#maxEntries = maxEntries;
  }

  append(entry: WindowEntry<P>): void {
    this.entries.push(entry);
    this.readerAt = entry.position;
    while (this.entries.length - this.head > this.#maxEntries)
      this.contiguousAfter = this.entries[this.head++]!.position;
    // Shifting one by one would be quadratic; slice once half the array is dead.
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Starts the window over at `position` (the store moved on past what the window holds:
   * events were trimmed before this process read them, or the log began a new epoch).
   * Readers before it read the store themselves and learn what they lost.
   */
  restartAt(position: P): void {
    this.entries = [];
    this.head = 0;
    this.contiguousAfter = position;
    this.readerAt = position;
  }

  /** The first entry after `position`, if the window has it. */
  abstract firstAfter(position: P): WindowEntry<P> | undefined;

  /** A reader at `cursor` needs events the window no longer holds: it reads the store. */
  abstract isBehind(cursor: P): boolean;
}
