import type { TrackedEnvelope } from '@trpc/server';
import { TopicSubscribers } from '../log/topicSubscribers.js';

export interface WindowEntry {
  seq: number;
  /** `tracked(id, data)` with the shared value, made once for every local reader. */
  envelope: TrackedEnvelope<unknown>;
}

/**
 * One topic as this process reads it: the recent events, read from the table once per
 * process and fanned out to the local readers. Sequence numbers have no holes, so positions
 * are plain numbers and "is this reader still inside the window?" is a comparison.
 */
export class TopicWindow {
  entries: WindowEntry[] = [];
  head = 0;
  /** Every event after this sequence number, up to {@link readerAt}, is in the window. */
  contiguousAfter: number;
  /** The last sequence number read from the table. */
  readerAt: number;
  readers = 0;
  readonly subscribers = new TopicSubscribers();
  /** A read of the table is under way; `again` asks for another one after it. */
  refreshing = false;
  again = false;

  constructor(
    readonly name: string,
    start: number,
    private readonly maxEntries: number,
  ) {
    this.contiguousAfter = start;
    this.readerAt = start;
  }

  append(entry: WindowEntry): void {
    this.entries.push(entry);
    this.readerAt = entry.seq;
    while (this.entries.length - this.head > this.maxEntries) this.contiguousAfter = this.entries[this.head++]!.seq;
    // Shifting one by one would be quadratic; slice once half the array is dead.
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Starts the window over at `seq` (the table moved on past what the window holds: events
   * were trimmed before this process read them, or the log began a new epoch). Readers
   * before it read the table themselves and learn what they lost.
   */
  restartAt(seq: number): void {
    this.entries = [];
    this.head = 0;
    this.contiguousAfter = seq;
    this.readerAt = seq;
  }

  /** The first entry after `seq`, if the window has it. */
  firstAfter(seq: number): WindowEntry | undefined {
    const first = this.entries[this.head];
    if (!first || seq < first.seq - 1) return undefined;
    return this.entries[this.head + (seq + 1 - first.seq)];
  }
}
