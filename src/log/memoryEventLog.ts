import { tracked, TRPCError, type TrackedEnvelope } from '@trpc/server';
import { randomToken } from '../server/secret.js';
import { formatEventId, parseEventId } from './eventId.js';
import { createCheckpoint, createReset, type CheckpointSignal, type ResetSignal } from './reset.js';
import { SharedValue, withSharedValue } from './sharedValue.js';
import type { EventLog, EventLogSubscribeOptions } from './types.js';
import { Wakeup } from './wakeup.js';

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
  id: string;
  /** Shared by every reader, so the server serializes it once (see SharedValue). */
  data: SharedValue;
  at: number;
}

/** One topic: a window of its events and who waits for the next one. */
class Topic {
  events: StoredEvent[] = [];
  head = 0;
  /** Sequence number of the last event appended (or where the topic starts). */
  lastSeq: number;
  readonly wakeup = new Wakeup();

  /**
   * A topic starts above every sequence number the log has issued, so a topic that was
   * dropped and comes back never reuses an id: an old id then reads as trimmed (a reset),
   * not as a position in the new topic.
   */
  constructor(startSeq: number) {
    this.lastSeq = startSeq;
  }

  /** Sequence number of the oldest event still held (lastSeq + 1 when none is held). */
  get firstHeldSeq(): number {
    return this.head < this.events.length ? this.events[this.head]!.seq : this.lastSeq + 1;
  }

  append(event: StoredEvent, maxEvents: number): void {
    this.events.push(event);
    this.lastSeq = event.seq;
    while (this.events.length - this.head > maxEvents) this.head++;
    this.#compact();
  }

  trim(now: number, maxAgeMs: number): void {
    if (maxAgeMs <= 0) return;
    while (this.head < this.events.length && now - this.events[this.head]!.at > maxAgeMs) this.head++;
    this.#compact();
  }

  /** The first held event with a sequence number above `seq`, by index. */
  indexAfter(seq: number): number {
    const first = this.firstHeldSeq;
    return this.head + Math.max(0, seq + 1 - first);
  }

  get idle(): boolean {
    return this.head === this.events.length && this.wakeup.waiting === 0;
  }

  // Shifting one by one would be quadratic; slice once half the array is dead.
  #compact(): void {
    if (this.head > 64 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
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
  const maxEvents = Math.max(1, opts.maxEvents ?? 1_000);
  const maxAgeMs = opts.maxAgeMs ?? 300_000;
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
          candidate.trim(Date.now(), maxAgeMs);
          if (candidate.idle) topics.delete(key);
          if (topics.size < maxTopics) break;
        }
        if (topics.size >= maxTopics) {
          throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: `The event log holds its limit of ${maxTopics} topics` });
        }
      }
      topic = new Topic(highestSeq);
      topics.set(name, topic);
    }
    return topic;
  };

  const log = {
    epoch,

    async publish<T>(name: string, data: T): Promise<string> {
      if (closed) throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'The event log is closed' });
      const topic = topicFor(name);
      const seq = topic.lastSeq + 1;
      highestSeq = Math.max(highestSeq, seq);
      const now = Date.now();
      const id = formatEventId(epoch, seq);
      topic.append({ seq, id, data: new SharedValue(data), at: now }, maxEvents);
      topic.trim(now, maxAgeMs);
      topic.wakeup.wake();
      return id;
    },

    async *subscribe<T>(
      name: string,
      options: EventLogSubscribeOptions = {},
    ): AsyncGenerator<TrackedEnvelope<T> | ResetSignal | CheckpointSignal, void> {
      const { signal } = options;
      const topic = topicFor(name);
      // Always an id, even before the first event: a client resuming from it misses nothing.
      const headId = (): string => formatEventId(epoch, topic.lastSeq);
      // Where this reader stands: the sequence number of the last event it has.
      let cursor = topic.lastSeq;
      const requested = options.lastEventId;
      if (requested !== undefined && requested !== null && requested !== '') {
        const id = parseEventId(requested);
        topic.trim(Date.now(), maxAgeMs);
        if (!id || id.seq > topic.lastSeq) yield createReset('unknown', headId());
        else if (id.epoch !== epoch) yield createReset('epoch', headId());
        else if (id.seq < topic.firstHeldSeq - 1) yield createReset('trimmed', headId());
        else cursor = id.seq;
      } else {
        // Starting from now: tell the client where now is, so it can resume from here.
        yield createCheckpoint(formatEventId(epoch, cursor));
      }
      try {
        while (!closed && !signal?.aborted) {
          topic.trim(Date.now(), maxAgeMs);
          if (cursor < topic.firstHeldSeq - 1) {
            // The window moved past events this reader had not read yet.
            cursor = topic.lastSeq;
            yield createReset('trimmed', headId());
            continue;
          }
          const index = topic.indexAfter(cursor);
          if (index < topic.events.length) {
            const event = topic.events[index]!;
            cursor = event.seq;
            yield withSharedValue<TrackedEnvelope<T>>(tracked(event.id, event.data.value as T), event.data);
            continue;
          }
          await topic.wakeup.wait(signal);
        }
      } finally {
        release(name, topic);
      }
    },

    async close(): Promise<void> {
      closed = true;
      for (const topic of topics.values()) topic.wakeup.wake();
      topics.clear();
    },
  };
  // Resets and checkpoints are for the transport, never the app's data: the public type
  // shows what reaches the client.
  return log as unknown as EventLog;
}
