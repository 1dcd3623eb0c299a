import { tracked, TRPCError, type TrackedEnvelope } from '@trpc/server';
import { randomToken } from '../shared/randomToken.js';
import { formatEventId, parseEventId } from './eventId.js';
import { createCheckpoint, createReset } from './reset.js';
import { SharedValue, withSharedValue } from './sharedValue.js';
import { pushableSubscription, PushedReaderBase, type PushableGenerator, type PushSink } from './pushSource.js';
import type { ReaderItem } from './readerItem.js';
import type { EventLog, EventLogSubscribeOptions } from './types.js';
import { TopicSubscribers } from './topicSubscribers.js';
import { tracePublish } from './publishTracing.js';

/** Options of {@link createMemoryEventLog}. */
export interface MemoryEventLogOptions {
  /**
   * Events kept per topic; older ones are trimmed (a resume from before them gets a reset).
   * @default 1_000
   */
  maxEvents?: number;
  /**
   * Age after which events are trimmed, in ms. `0`: no age bound.
   * @default 300_000 (5 minutes)
   */
  maxAgeMs?: number;
  /**
   * Topics held at once. Publishing to a new topic past it fails with a typed error; topics
   * with no events and no subscribers are dropped.
   * @default 100_000
   */
  maxTopics?: number;
}

interface StoredEvent {
  seq: number;
  /**
   * `tracked(id, data)`, made once and handed to every reader: the data is shared, so the
   * server serializes it once (see SharedValue), and fan-out allocates nothing per reader.
   */
  envelope: TrackedEnvelope<unknown>;
  at: number;
}

interface Limits {
  maxEvents: number;
  maxAgeMs: number;
}

/** One topic: a window of its events and who waits for the next one. */
class Topic {
  events: StoredEvent[] = [];
  head = 0;
  /** Sequence number of the last event appended (or where the topic starts). */
  lastSeq: number;
  readonly subscribers = new TopicSubscribers();
  readonly #limits: Limits;

  /**
   * A topic starts above every sequence number the log has issued, so a topic that was
   * dropped and comes back never reuses an id: an old id then reads as trimmed (a reset),
   * not as a position in the new topic.
   */
  constructor(startSeq: number, limits: Limits) {
    this.lastSeq = startSeq;
    this.#limits = limits;
  }

  /** Sequence number of the oldest event still held (lastSeq + 1 when none is held). */
  get firstHeldSeq(): number {
    return this.head < this.events.length ? this.events[this.head]!.seq : this.lastSeq + 1;
  }

  append(event: StoredEvent): void {
    this.events.push(event);
    this.lastSeq = event.seq;
    while (this.events.length - this.head > this.#limits.maxEvents) this.head++;
    this.trim(event.at);
  }

  /** Drops events older than the age bound. */
  trim(now: number): void {
    const { maxAgeMs } = this.#limits;
    if (maxAgeMs > 0) {
      while (this.head < this.events.length && now - this.events[this.head]!.at > maxAgeMs) this.head++;
    }
    this.#compact();
  }

  /** The first held event with a sequence number above `seq`, by index. */
  indexAfter(seq: number): number {
    const first = this.firstHeldSeq;
    return this.head + Math.max(0, seq + 1 - first);
  }

  get idle(): boolean {
    return this.head === this.events.length && this.subscribers.count === 0;
  }

  // Shifting one by one would be quadratic; slice once half the array is dead.
  #compact(): void {
    if (this.head === this.events.length && this.head > 0) {
      this.events = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }
}

/** Where one reader stands in a topic (the last sequence number it has), and what it reads next. */
class Cursor {
  readonly topic: Topic;
  readonly #epoch: string;
  #seq: number;

  constructor(topic: Topic, epoch: string, seq: number) {
    this.topic = topic;
    this.#epoch = epoch;
    this.#seq = seq;
  }

  /** The next item, or `undefined` when this reader has every event published so far. */
  next(): ReaderItem | undefined {
    const topic = this.topic;
    if (this.#seq < topic.firstHeldSeq - 1) {
      // The window moved past events this reader had not read yet.
      this.#seq = topic.lastSeq;
      return createReset('trimmed', this.headId());
    }
    const index = topic.indexAfter(this.#seq);
    if (index >= topic.events.length) return undefined;
    const event = topic.events[index]!;
    this.#seq = event.seq;
    return event.envelope;
  }

  /** The topic's head as an id, even before the first event: resuming from it misses nothing. */
  headId(): string {
    return formatEventId(this.#epoch, this.topic.lastSeq);
  }
}

/**
 * A reader on the push path (see pushSource.ts): delivered to synchronously when an event is
 * published; when its sink is full it stops, and catches up from its cursor once it drains.
 */
class PushedReader extends PushedReaderBase {
  readonly #cursor: Cursor;
  readonly #name: string;
  readonly #release: (name: string, topic: Topic) => void;
  #paused = false;

  constructor(
    cursor: Cursor,
    sink: PushSink,
    name: string,
    release: (name: string, topic: Topic) => void,
    signal: AbortSignal | undefined,
  ) {
    super(sink, signal);
    this.#cursor = cursor;
    this.#name = name;
    this.#release = release;
    cursor.topic.subscribers.add(this);
  }

  /** Starts delivering: `first` (a reset or a checkpoint) if any, then whatever is new. */
  start(first: ReaderItem | undefined): void {
    if (first !== undefined) {
      let room: boolean;
      try {
        room = this.sink.value(first);
      } catch (cause) {
        return this.failWith(cause);
      }
      if (!room) return this.#pause();
    }
    this.deliver();
  }

  /** Delivers what this reader has not had yet, until it has all of it or the sink is full. */
  deliver(): void {
    if (this.#paused) return;
    try {
      for (let item = this.#cursor.next(); item !== undefined && !this.stopped; item = this.#cursor.next()) {
        if (!this.sink.value(item)) return this.#pause();
      }
    } catch (cause) {
      // One reader's failure must not reach `publish` and the readers after it.
      this.failWith(cause);
    }
  }

  protected leave(): void {
    const { topic } = this.#cursor;
    topic.subscribers.delete(this);
    this.#release(this.#name, topic);
  }

  // Nothing is queued while paused: the cursor says where to go on from.
  #pause(): void {
    this.#paused = true;
    void this.sink.drained().then(() => {
      this.#paused = false;
      if (this.stopped) return;
      this.#cursor.topic.trim(Date.now());
      this.deliver();
    });
  }
}

/**
 * The embedded event log: per-topic windows of recent events in this process's memory.
 *
 * A subscriber holds only a cursor (the last sequence number it delivered) and reads the
 * topic's window itself, so replay and live are one loop — nothing published between the two
 * can be missed or sent twice — and fan-out keeps no per-subscriber queue: a slow reader that
 * falls out of the window gets a reset instead of growing memory.
 */
export function createMemoryEventLog(opts: MemoryEventLogOptions = {}): EventLog {
  const limits: Limits = { maxEvents: Math.max(1, opts.maxEvents ?? 1_000), maxAgeMs: opts.maxAgeMs ?? 300_000 };
  const maxTopics = opts.maxTopics ?? 100_000;
  const epoch = randomToken(9).replace(/-/g, '_');
  const topics = new Map<string, Topic>();
  let highestSeq = 0;
  let closed = false;

  const release = (name: string, topic: Topic): void => {
    if (topic.idle && topics.get(name) === topic) topics.delete(name);
  };

  const topicFor = (name: string): Topic => {
    let topic = topics.get(name);
    if (!topic) {
      if (topics.size >= maxTopics) {
        // Make room from topics that hold nothing and serve no one.
        for (const [key, candidate] of topics) {
          candidate.trim(Date.now());
          if (candidate.idle) topics.delete(key);
          if (topics.size < maxTopics) break;
        }
        if (topics.size >= maxTopics) {
          throw new TRPCError({
            code: 'TOO_MANY_REQUESTS',
            message: `The event log holds its limit of ${maxTopics} topics`,
          });
        }
      }
      topic = new Topic(highestSeq, limits);
      topics.set(name, topic);
    }
    return topic;
  };

  /**
   * A reader's start: its cursor, and what it gets first — a reset when `lastEventId` cannot
   * be resumed from, or, starting from now, a checkpoint that tells the client where now is.
   */
  const open = (
    name: string,
    lastEventId: string | null | undefined,
  ): { cursor: Cursor; first: ReaderItem | undefined } => {
    const topic = topicFor(name);
    const cursor = new Cursor(topic, epoch, topic.lastSeq);
    if (lastEventId === undefined || lastEventId === null || lastEventId === '') {
      return { cursor, first: createCheckpoint(formatEventId(epoch, topic.lastSeq)) };
    }
    const id = parseEventId(lastEventId);
    topic.trim(Date.now());
    // Another log's id first: after a restart it is usually ahead of this log's head.
    if (id && id.epoch !== epoch) return { cursor, first: createReset('epoch', cursor.headId()) };
    if (!id || id.seq > topic.lastSeq) return { cursor, first: createReset('unknown', cursor.headId()) };
    if (id.seq < topic.firstHeldSeq - 1) return { cursor, first: createReset('trimmed', cursor.headId()) };
    return { cursor: new Cursor(topic, epoch, id.seq), first: undefined };
  };

  async function* pull(name: string, options: EventLogSubscribeOptions): AsyncGenerator<ReaderItem, void, undefined> {
    const { signal } = options;
    const { cursor, first } = open(name, options.lastEventId);
    const { topic } = cursor;
    try {
      if (first) yield first;
      while (!closed && !signal?.aborted) {
        topic.trim(Date.now());
        const item = cursor.next();
        if (item !== undefined) yield item;
        else await topic.subscribers.wait(signal);
      }
    } finally {
      release(name, topic);
    }
  }

  async function append(name: string, data: unknown): Promise<string> {
    if (closed) throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'The event log is closed' });
    const topic = topicFor(name);
    const seq = topic.lastSeq + 1;
    highestSeq = Math.max(highestSeq, seq);
    const id = formatEventId(epoch, seq);
    const at = Date.now();
    const envelope = withSharedValue<TrackedEnvelope<unknown>>(tracked(id, data), new SharedValue(id, data, at));
    topic.append({ seq, envelope, at });
    topic.subscribers.announce();
    return id;
  }

  const log = {
    epoch,

    publish<T>(name: string, data: T): Promise<string> {
      return tracePublish('memory', append, name, data);
    },

    subscribe(name: string, options: EventLogSubscribeOptions = {}): PushableGenerator<ReaderItem> {
      return pushableSubscription(
        options,
        () => closed,
        () => pull(name, options),
        (sink, signal) => {
          const { cursor, first } = open(name, options.lastEventId);
          const reader = new PushedReader(cursor, sink, name, release, signal);
          reader.start(first);
          return reader;
        },
      );
    },

    async close(): Promise<void> {
      closed = true;
      for (const topic of topics.values()) topic.subscribers.closeAll();
      topics.clear();
    },
  };
  // Resets and checkpoints are for the transport, never the app's data: the public type
  // shows what reaches the client.
  return log as unknown as EventLog;
}
