import { tracked, TRPCError, type TrackedEnvelope } from '@trpc/server';
import type { Redis } from 'ioredis';
import { randomToken } from '../shared/randomToken.js';
import { createCheckpoint, createReset } from '../log/reset.js';
import { SharedValue, withSharedValue } from '../log/sharedValue.js';
import type { PushableGenerator } from '../log/pushSource.js';
import type { ReaderItem } from '../log/readerItem.js';
import { subscribeRemote, type RemoteStore } from '../log/remoteReader.js';
import { TopicWindow, type WindowEntry } from '../log/topicWindow.js';
import { TopicWindows } from '../log/topicWindows.js';
import type { EventLog, EventLogSubscribeOptions } from '../log/types.js';

/** Options of {@link createRedisEventLog}. */
export interface RedisEventLogOptions {
  /** An ioredis client for commands. The log duplicates it once for its blocking reader. */
  redis: Redis;
  /** Prefix of every key the log writes. @default 'trpc-sse:' */
  keyPrefix?: string;
  /** Events kept per topic (`XADD … MAXLEN`). @default 1_000 */
  maxEvents?: number;
  /**
   * Trim `MAXLEN ~` (Redis trims in whole nodes, cheaply; a topic may hold somewhat more than
   * `maxEvents`). `false` trims exactly.
   * @default true
   */
  approximateTrim?: boolean;
  /** Age after which events are trimmed (`XTRIM … MINID`), in ms; `0`: none. @default 300_000 */
  maxAgeMs?: number;
  /** Events of a topic kept in this process for fan-out; readers further behind read Redis. @default 1_000 */
  localWindow?: number;
  /** Longest single wait of the process's reader, in ms (new topics interrupt it). @default 5_000 */
  blockMs?: number;
  /** How data is stored in Redis. @default JSON */
  serializer?: { serialize(value: unknown): string; deserialize(text: string): unknown };
}

/** A Redis stream id, `ms-seq`, as numbers for comparison. */
type StreamId = readonly [number, number];

/**
 * Where a reader stands: the stream id (to read on from) and the event's ordinal in its topic
 * (1, 2, 3, … with no holes, kept by Redis in a counter). Stream ids have holes, so only the
 * ordinal tells exactly whether events after a position were trimmed away.
 */
interface Position {
  sid: StreamId;
  n: number;
}

/**
 * Appends atomically: the ordinal and the entry are written together, so ordinals in the
 * stream never disagree with the counter. KEYS: stream, counter. ARGV: trim mode ('~' | '='),
 * max length, data, min id ('' for none).
 */
const PUBLISH_SCRIPT = `
local n = redis.call('INCR', KEYS[2])
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], ARGV[2], '*', 'd', ARGV[3], 'n', n)
if ARGV[4] ~= '' then redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1], ARGV[4]) end
return {id, n}
`;

function parseStreamId(text: string): StreamId | null {
  const match = /^(\d{1,15})-(\d{1,15})$/.exec(text);
  return match ? [Number(match[1]), Number(match[2])] : null;
}

function compareIds(a: StreamId, b: StreamId): number {
  return a[0] - b[0] || a[1] - b[1];
}

const formatStreamId = (id: StreamId): string => `${id[0]}-${id[1]}`;
const ZERO: StreamId = [0, 0];
const START: Position = { sid: ZERO, n: 0 };

/** One Redis topic as this process reads it, fed by the shared blocking reader. */
class RedisTopicWindow extends TopicWindow<Position> {
  constructor(
    readonly key: string,
    readonly counterKey: string,
    start: Position,
    maxEntries: number,
  ) {
    super(start, maxEntries);
  }

  /** Stream ids have holes: a binary search, since a live reader asks for the newest. */
  firstAfter(position: Position): WindowEntry<Position> | undefined {
    let low = this.head;
    let high = this.entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (compareIds(this.entries[mid]!.position.sid, position.sid) > 0) high = mid;
      else low = mid + 1;
    }
    return this.entries[low];
  }

  isBehind(cursor: Position): boolean {
    return cursor.n < this.contiguousAfter.n;
  }
}

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/**
 * The event log on Redis Streams, for several server processes: one stream per topic, ids
 * `{epoch}-{ordinal}-{ms}-{seq}` (the epoch is stored in Redis, so a wiped Redis gives a new
 * one; the ordinal is the event's in its topic, then comes its stream id).
 *
 * Each process runs ONE blocking reader over every topic it has readers for, and fans events
 * out to its local readers from a window (each event parsed once per process, serialized once
 * per subscriber setting). A reader behind the window reads Redis itself; if Redis trimmed
 * what it needs, it gets a reset.
 */
export function createRedisEventLog(opts: RedisEventLogOptions): EventLog {
  const { redis } = opts;
  const prefix = opts.keyPrefix ?? 'trpc-sse:';
  const maxEvents = Math.max(1, opts.maxEvents ?? 1_000);
  const approximate = opts.approximateTrim ?? true;
  const maxAgeMs = opts.maxAgeMs ?? 300_000;
  const localWindow = Math.max(1, opts.localWindow ?? Math.min(maxEvents, 1_000));
  const blockMs = opts.blockMs ?? 5_000;
  const serializer: NonNullable<RedisEventLogOptions['serializer']> = opts.serializer ?? {
    serialize: (value: unknown) => JSON.stringify(value) ?? 'null',
    deserialize: JSON.parse,
  };
  const epochKey = `${prefix}epoch`;
  const topicKey = (topic: string): string => `${prefix}t:${topic}`;
  const counterKey = (topic: string): string => `${prefix}n:${topic}`;

  const reader = redis.duplicate();
  // Our own connection: its failures surface as failed reads (retried), not as process-level noise.
  reader.on('error', () => undefined);
  let readerClientId: number | undefined;
  const topics = new TopicWindows<RedisTopicWindow>();
  let epoch = '';
  /** Bumped when the epoch in Redis changes under us (Redis was wiped): readers reset. */
  let epochGeneration = 0;
  let closed = false;
  let looping = false;

  const ready = (async () => {
    await redis.set(epochKey, randomToken(9).replace(/-/g, '_'), 'NX');
    epoch = (await redis.get(epochKey)) ?? '';
    readerClientId = await reader.client('ID');
  })();

  /** Reads the epoch from Redis; a different one means history was lost. */
  async function refreshEpoch(): Promise<void> {
    await redis.set(epochKey, randomToken(9).replace(/-/g, '_'), 'NX');
    const current = (await redis.get(epochKey)) ?? '';
    if (current !== epoch) {
      epoch = current;
      epochGeneration++;
      for (const topic of topics.values()) {
        topic.restartAt(START);
        topic.subscribers.announce();
      }
    }
  }

  /** `{epoch}-{ordinal}-{ms}-{seq}`: the epoch, the ordinal in the topic, the stream id. */
  const eventId = (position: Position): string => `${epoch}-${position.n}-${formatStreamId(position.sid)}`;

  function parseId(id: string): { epoch: string; position: Position } | null {
    const match = /^([A-Za-z0-9_]{1,64})-(\d{1,15})-(\d{1,15}-\d{1,15})$/.exec(id);
    if (!match) return null;
    const sid = parseStreamId(match[3]!);
    return sid ? { epoch: match[1]!, position: { sid, n: Number(match[2]) } } : null;
  }

  /** The topic's newest position: its last entry, or (all trimmed) its counter. */
  async function headOf(topic: { key: string; counterKey: string }): Promise<Position> {
    // One transaction: the last entry and the counter must describe the same moment.
    const replies = await redis.multi().xrevrange(topic.key, '+', '-', 'COUNT', 1).get(topic.counterKey).exec();
    const last = (replies?.[0]?.[1] ?? []) as Array<[string, string[]]>;
    const counter = Number((replies?.[1]?.[1] as string | null) ?? 0);
    const entry = last[0];
    const sid = entry ? parseStreamId(entry[0]) : null;
    if (entry && sid) return { sid, n: Number(field(entry[1], 'n') ?? 0) };
    return { sid: ZERO, n: counter };
  }

  /**
   * Whether events after `position` were trimmed away: the oldest entry still held is
   * further on than the next ordinal (or nothing is held though more were added).
   */
  async function trimmedAfter(topic: { key: string; counterKey: string }, position: Position): Promise<boolean> {
    const first = (await redis.xrange(topic.key, '-', '+', 'COUNT', 1)) as Array<[string, string[]]>;
    const entry = first[0];
    if (entry) return Number(field(entry[1], 'n') ?? 0) > position.n + 1;
    return Number((await redis.get(topic.counterKey)) ?? 0) > position.n;
  }

  function acquire(name: string): Promise<RedisTopicWindow> {
    const key = topicKey(name);
    return topics.acquire(
      key,
      async () =>
        new RedisTopicWindow(key, counterKey(name), await headOf({ key, counterKey: counterKey(name) }), localWindow),
      async () => {
        // The reader is blocked on the old set of topics: make it start over with this one.
        if (readerClientId !== undefined)
          await redis.call('CLIENT', 'UNBLOCK', String(readerClientId)).catch(() => undefined);
        ensureReader();
      },
    );
  }

  function release(topic: RedisTopicWindow): void {
    topics.release(topic.key, topic);
  }

  function ensureReader(): void {
    if (looping || closed) return;
    looping = true;
    void readLoop().finally(() => {
      looping = false;
      if (!closed && topics.size > 0) ensureReader();
    });
  }

  async function readLoop(): Promise<void> {
    let failures = 0;
    while (!closed && topics.size > 0) {
      try {
        await refreshEpoch();
        const current = [...topics.values()];
        const result = await reader.xread(
          'COUNT',
          1000,
          'BLOCK',
          blockMs,
          'STREAMS',
          ...current.map((topic) => topic.key),
          ...current.map((topic) => formatStreamId(topic.readerAt.sid)),
        );
        failures = 0;
        for (const [key, entries] of result ?? []) {
          const topic = topics.get(key);
          if (!topic) continue;
          for (const [rawId, fields] of entries) {
            const sid = parseStreamId(rawId);
            const text = field(fields, 'd');
            if (!sid || text === undefined || compareIds(sid, topic.readerAt.sid) <= 0) continue;
            const position = { sid, n: Number(field(fields, 'n') ?? 0) };
            const value = serializer.deserialize(text);
            const id = eventId(position);
            const envelope = withSharedValue<TrackedEnvelope<unknown>>(tracked(id, value), new SharedValue(id, value));
            topic.append({ position, envelope });
          }
          topic.subscribers.announce();
        }
      } catch {
        if (closed) return;
        // Redis away (restarting, network): back off, then read again; ioredis reconnects.
        failures++;
        await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 50 * 2 ** Math.min(failures, 6))));
      }
    }
  }

  /**
   * A reader's start: where it stands, and what it gets first — a checkpoint when it starts
   * from now, a reset when `lastEventId` cannot be resumed from.
   */
  async function openAt(
    topic: RedisTopicWindow,
    lastEventId: string | null | undefined,
  ): Promise<{ cursor: Position; first: ReaderItem | undefined }> {
    if (lastEventId === undefined || lastEventId === null || lastEventId === '') {
      return { cursor: topic.readerAt, first: createCheckpoint(eventId(topic.readerAt)) };
    }
    const parsed = parseId(lastEventId);
    const head = await headOf(topic);
    const reset = (reason: 'unknown' | 'epoch' | 'trimmed') => ({
      cursor: topic.readerAt,
      first: createReset(reason, eventId(head)),
    });
    if (!parsed) return reset('unknown');
    if (parsed.epoch !== epoch) return reset('epoch');
    if (parsed.position.n > head.n || compareIds(parsed.position.sid, head.sid) > 0) return reset('unknown');
    if (await trimmedAfter(topic, parsed.position)) return reset('trimmed');
    return { cursor: parsed.position, first: undefined };
  }

  /**
   * The next events for a reader behind this process's window, from Redis: up to 100, or a
   * reset when Redis trimmed some of them. Returns the reader's new position.
   */
  async function readBehind(
    topic: RedisTopicWindow,
    cursor: Position,
  ): Promise<{ cursor: Position; items: ReaderItem[] }> {
    if (await trimmedAfter(topic, cursor)) {
      const head = await headOf(topic);
      return { cursor: head, items: [createReset('trimmed', eventId(head))] };
    }
    const batch = (await redis.xrange(
      topic.key,
      `(${formatStreamId(cursor.sid)}`,
      formatStreamId(topic.contiguousAfter.sid),
      'COUNT',
      100,
    )) as Array<[string, string[]]>;
    if (batch.length === 0) return { cursor: topic.contiguousAfter, items: [] };
    const items: ReaderItem[] = [];
    for (const [rawId, fields] of batch) {
      const sid = parseStreamId(rawId);
      const text = field(fields, 'd');
      if (!sid || text === undefined) continue;
      cursor = { sid, n: Number(field(fields, 'n') ?? 0) };
      items.push(tracked(eventId(cursor), serializer.deserialize(text)));
    }
    return { cursor, items };
  }

  const store: RemoteStore<Position, RedisTopicWindow> = {
    get closed() {
      return closed;
    },
    get generation() {
      return epochGeneration;
    },
    ready: () => ready,
    acquire,
    release,
    open(topic, lastEventId) {
      const generation = epochGeneration;
      return openAt(topic, lastEventId).then((opened) => ({ ...opened, generation }));
    },
    readBehind,
    restart(topic) {
      const cursor = topic.readerAt;
      return { cursor, reset: createReset('epoch', eventId(cursor)) };
    },
  };

  const log = {
    get epoch() {
      return epoch;
    },

    async publish<T>(name: string, data: T): Promise<string> {
      if (closed) throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'The event log is closed' });
      await ready;
      const minId = maxAgeMs > 0 ? `${Math.max(0, Date.now() - maxAgeMs)}-0` : '';
      let reply: unknown;
      try {
        reply = await redis.eval(
          PUBLISH_SCRIPT,
          2,
          topicKey(name),
          counterKey(name),
          approximate ? '~' : '=',
          String(maxEvents),
          serializer.serialize(data),
          minId,
        );
      } catch (cause) {
        throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'Redis did not take the event', cause });
      }
      const [rawId, n] = reply as [string, number];
      return eventId({ sid: parseStreamId(rawId) ?? ZERO, n });
    },

    subscribe(name: string, options: EventLogSubscribeOptions = {}): PushableGenerator<ReaderItem> {
      return subscribeRemote(store, name, options);
    },

    async close(): Promise<void> {
      closed = true;
      topics.closeAll();
      reader.disconnect();
    },
  };
  return log as unknown as EventLog;
}
