import { TopicWindow, type WindowEntry } from '../log/topicWindow.js';

/**
 * One Postgres topic as this process reads it. Sequence numbers have no holes, so positions
 * are plain numbers and "is this reader still inside the window?" is a comparison.
 */
export class PostgresTopicWindow extends TopicWindow<number> {
  /** A read of the table is under way; `again` asks for another one after it. */
  refreshing = false;
  again = false;

  constructor(
    readonly name: string,
    start: number,
    maxEntries: number,
  ) {
    super(start, maxEntries);
  }

  firstAfter(seq: number): WindowEntry<number> | undefined {
    const first = this.entries[this.head];
    if (!first || seq < first.position - 1) return undefined;
    return this.entries[this.head + (seq + 1 - first.position)];
  }

  isBehind(cursor: number): boolean {
    return cursor < this.contiguousAfter;
  }
}
