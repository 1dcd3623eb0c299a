import type { EventLogSubscribeOptions } from './types.js';
import { PushedReaderBase, pushableSubscription, type PushableGenerator, type PushSink } from './pushSource.js';
import type { ReaderItem } from './readerItem.js';
import type { ResetSignal } from './reset.js';
import type { TopicWindow } from './topicWindow.js';

/**
 * A log kept in a store several processes share (Redis, Postgres), as its readers see it:
 * each process reads a topic once into a {@link TopicWindow} and fans it out; a reader behind
 * the window reads the store. `P` is the store's position, `T` its window.
 */
export interface RemoteStore<P, T extends TopicWindow<P>> {
  readonly closed: boolean;
  /** Bumped when the log's epoch changes under its readers: they reset. */
  readonly generation: number;
  /** Resolves once the log can be read (its epoch known). */
  ready(): Promise<void>;
  /** The topic's window, shared by this process's readers; {@link release} it once. */
  acquire(name: string): Promise<T>;
  release(topic: T): void;
  /**
   * A reader's start: where it stands, what it gets first (a checkpoint when it starts from
   * now, a reset when `lastEventId` cannot be resumed from), and the epoch generation that
   * position belongs to.
   */
  open(
    topic: T,
    lastEventId: string | null | undefined,
  ): Promise<{ cursor: P; first: ReaderItem | undefined; generation: number }>;
  /**
   * The next events for a reader behind the window, from the store (a reset when some were
   * trimmed), and the reader's new position. Nothing, and the same position, when the
   * epoch changed meanwhile: the reader then resets.
   */
  readBehind(topic: T, cursor: P): Promise<{ cursor: P; items: ReaderItem[] }>;
  /** Where a reader goes on from in a new epoch, and the reset that tells it so. */
  restart(topic: T): { cursor: P; reset: ResetSignal };
}

/** A subscription to `name` in a shared store: pulled as a generator, or pushed to a sink. */
export function subscribeRemote<P, T extends TopicWindow<P>>(
  store: RemoteStore<P, T>,
  name: string,
  options: EventLogSubscribeOptions,
): PushableGenerator<ReaderItem> {
  return pushableSubscription(
    options,
    () => store.closed,
    () => pullRemote(store, name, options),
    (sink, signal) => {
      const reader = new RemotePushedReader(store, sink, signal);
      void reader.start(name, options.lastEventId);
      return reader;
    },
  );
}

async function* pullRemote<P, T extends TopicWindow<P>>(
  store: RemoteStore<P, T>,
  name: string,
  options: EventLogSubscribeOptions,
): AsyncGenerator<ReaderItem, void, undefined> {
  const { signal } = options;
  await store.ready();
  const topic = await store.acquire(name);
  try {
    const opened = await store.open(topic, options.lastEventId);
    let { cursor, generation } = opened;
    if (opened.first) yield opened.first;
    while (!store.closed && !signal?.aborted) {
      if (generation !== store.generation) {
        generation = store.generation;
        const restart = store.restart(topic);
        cursor = restart.cursor;
        yield restart.reset;
        continue;
      }
      if (topic.isBehind(cursor)) {
        // Behind this process's window: the store has the rest, unless it was trimmed.
        const behind = await store.readBehind(topic, cursor);
        cursor = behind.cursor;
        for (const item of behind.items) {
          yield item;
          if (signal?.aborted || store.closed) return;
        }
        continue;
      }
      const entry = topic.firstAfter(cursor);
      if (entry) {
        cursor = entry.position;
        yield entry.envelope;
        continue;
      }
      await topic.subscribers.wait(signal);
    }
  } finally {
    store.release(topic);
  }
}

/**
 * A reader on the push path (see pushSource.ts): events in the window are delivered in the
 * turn the process reads them from the store; starting, reading behind the window and waiting
 * for a full sink are the only asynchronous steps, and nothing is queued meanwhile (the cursor
 * says where to go on from).
 */
class RemotePushedReader<P, T extends TopicWindow<P>> extends PushedReaderBase {
  readonly #store: RemoteStore<P, T>;
  #topic: T | undefined;
  /** Set by `start` before anything is delivered. */
  #cursor!: P;
  #generation: number;
  /** Starting, reading the store, or waiting for the sink: `deliver` waits its turn. */
  #busy = true;

  constructor(store: RemoteStore<P, T>, sink: PushSink, signal: AbortSignal | undefined) {
    super(sink, signal);
    this.#store = store;
    this.#generation = store.generation;
  }

  async start(name: string, lastEventId: string | null | undefined): Promise<void> {
    const store = this.#store;
    try {
      await store.ready();
      const topic = await store.acquire(name);
      if (this.stopped) {
        store.release(topic);
        return;
      }
      this.#topic = topic;
      const { cursor, first, generation } = await store.open(topic, lastEventId);
      this.#generation = generation;
      // Stopped while the store answered: leave() has released the topic already.
      if (this.stopped) return;
      // Closed meanwhile: the topic is no longer read.
      if (store.closed) {
        this.end(true);
        return;
      }
      this.#cursor = cursor;
      topic.subscribers.add(this);
      if (first && !(await this.#offer(first))) return;
      this.#busy = false;
      this.deliver();
    } catch (cause) {
      this.failWith(cause);
    }
  }

  /** Delivers what is new in the window, until caught up, behind the window, or the sink is full. */
  deliver(): void {
    const topic = this.#topic;
    if (this.#busy || this.stopped || !topic) return;
    try {
      while (!this.stopped) {
        let item: ReaderItem;
        if (this.#generation !== this.#store.generation) {
          this.#generation = this.#store.generation;
          const restart = this.#store.restart(topic);
          this.#cursor = restart.cursor;
          item = restart.reset;
        } else if (topic.isBehind(this.#cursor)) {
          this.#busy = true;
          void this.#catchUp(topic);
          return;
        } else {
          const entry = topic.firstAfter(this.#cursor);
          if (!entry) return;
          this.#cursor = entry.position;
          item = entry.envelope;
        }
        if (!this.sink.value(item)) {
          this.#busy = true;
          void this.#resumeWhenDrained();
          return;
        }
      }
    } catch (cause) {
      this.failWith(cause);
    }
  }

  protected leave(): void {
    if (!this.#topic) return;
    this.#topic.subscribers.delete(this);
    this.#store.release(this.#topic);
  }

  async #catchUp(topic: T): Promise<void> {
    try {
      const behind = await this.#store.readBehind(topic, this.#cursor);
      if (this.stopped) return;
      this.#cursor = behind.cursor;
      for (const item of behind.items) if (!(await this.#offer(item))) return;
      this.#busy = false;
      this.deliver();
    } catch (cause) {
      this.failWith(cause);
    }
  }

  /** Gives the sink one item, waiting for room after it when full; false once stopped. */
  async #offer(item: ReaderItem): Promise<boolean> {
    if (this.stopped) return false;
    if (!this.sink.value(item)) await this.sink.drained();
    return !this.stopped;
  }

  async #resumeWhenDrained(): Promise<void> {
    await this.sink.drained();
    this.#busy = false;
    this.deliver();
  }
}
