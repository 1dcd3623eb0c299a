import { tracked, TRPCError, type TrackedEnvelope } from '@trpc/server';
import type { Cluster, Redis } from 'ioredis';
import { randomToken } from '../shared/randomToken.js';
import { createCheckpoint, createReset } from '../log/reset.js';
import { SharedValue, withSharedValue } from '../log/sharedValue.js';
import type { PushableGenerator } from '../log/pushSource.js';
import type { ReaderItem } from '../log/readerItem.js';
import { subscribeRemote, type RemoteStore } from '../log/remoteReader.js';
import { TopicWindow, type WindowEntry } from '../log/topicWindow.js';
import { TopicWindows } from '../log/topicWindows.js';
import type { EventLog, EventLogSubscribeOptions } from '../log/types.js';
import { connectionOf } from './clusterSlot.js';
import { FailureStreak } from './failureStreak.js';
import { clusterShards, shardKey, singleServerShards, type TopicShards } from './topicShards.js';

/** Options of {@link createRedisEventLog}. */
export interface RedisEventLogOptions {
  /**
   * An ioredis client for commands: a `Redis` (one server) or a `Cluster`. The log duplicates
   * it for its blocking readers: once on one server, once per shard it reads on a cluster.
   */
  redis: Redis | Cluster;
  /**
   * Redis Cluster only: how many shards (hash-tagged slot groups) topics are spread over. A
   * process holds one blocking reader connection per shard it has readers in. Every process
   * of a deployment must use the same number: changing it moves topics to new keys (their
   * stored events are then left behind and readers resuming get a reset).
   * @default 16
   */
  shards?: number;
  /**
   * Replicas that must hold an event before `publish` resolves (`WAIT`), so a failover to a
   * replica does not lose events publishers were told about. `0`: no wait. If the replicas do
   * not confirm in `waitTimeoutMs`, `publish` still resolves (the event is in the log).
   * @default 0
   */
  waitForReplicas?: number;
  /** Longest wait for `waitForReplicas`, in ms. @default 1_000 */
  waitTimeoutMs?: number;
  /**
   * Told when the log's background reading starts failing (Redis away, a cluster error), once
   * per run of failures; reading goes on with backoff. @default console.warn
   */
  onError?: (error: unknown) => void;
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

/** One Redis topic as this process reads it, fed by its shard's blocking reader. */
class RedisTopicWindow extends TopicWindow<Position> {
  /**
   * Where the topic's history was rewritten under this process (Redis lost events it had
   * acknowledged, in a failover): the first event of the new history. A reader whose
   * position lies in the lost part (an ordinal the new history reuses, at an older stream id)
   * cannot go on: it gets a reset.
   */
  rewoundAt: Position | undefined;

  constructor(
    readonly key: string,
    readonly counterKey: string,
    readonly shard: number,
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
    return cursor.n < this.contiguousAfter.n || this.isLost(cursor);
  }

  /** `cursor` is an event of history Redis lost (see {@link rewoundAt}). */
  isLost(cursor: Position): boolean {
    const rewound = this.rewoundAt;
    return rewound !== undefined && cursor.n >= rewound.n && compareIds(cursor.sid, rewound.sid) < 0;
  }
}

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** A blocking reader of one shard's topics, on its own connection. */
interface ShardReader {
  readonly shard: number;
  readonly client: Redis | Cluster;
  looping: boolean;
  /** Resolves once the reader can be woken. */
  readonly started: Promise<void>;
  /** Makes a blocked read return, so the next one covers a new topic. */
  wake(): Promise<void>;
  /**
   * On a cluster: this process's wake-up stream in the shard's slot, which the reader also
   * reads (a `CLIENT UNBLOCK` would have to find the node and the client id the cluster
   * client's connection has at that moment, which a failover changes under it).
   */
  readonly wakeKey: string | undefined;
  lastWakeId: string;
  readonly failures: FailureStreak;
}

/**
 * The event log on Redis Streams, for several server processes: one stream per topic, ids
 * `{epoch}-{ordinal}-{ms}-{seq}` (the epoch is stored in Redis, so a wiped Redis gives a new
 * one; the ordinal is the event's in its topic, then comes its stream id).
 *
 * Each process runs ONE blocking reader over every topic it has readers for (on Redis
 * Cluster, one per shard of topics: see topicShards.ts), and fans events out to its local
 * readers from a window (each event parsed once per process, serialized once per subscriber
 * setting). A reader behind the window reads Redis itself; if Redis trimmed what it needs, it
 * gets a reset. So does a reader whose events Redis lost in a failover: ordinals have no
 * holes, so an ordinal that comes again, or a resume id whose entry is gone, shows it.
 */
export function createRedisEventLog(opts: RedisEventLogOptions): EventLog {
  const { redis } = opts;
  const prefix = opts.keyPrefix ?? 'trpc-sse:';
  const maxEvents = Math.max(1, opts.maxEvents ?? 1_000);
  const approximate = opts.approximateTrim ?? true;
  const maxAgeMs = opts.maxAgeMs ?? 300_000;
  const localWindow = Math.max(1, opts.localWindow ?? Math.min(maxEvents, 1_000));
  const blockMs = opts.blockMs ?? 5_000;
  const waitForReplicas = Math.max(0, Math.floor(opts.waitForReplicas ?? 0));
  const waitTimeoutMs = Math.max(1, opts.waitTimeoutMs ?? 1_000);
  const serializer: NonNullable<RedisEventLogOptions['serializer']> = opts.serializer ?? {
    serialize: (value: unknown) => JSON.stringify(value) ?? 'null',
    deserialize: JSON.parse,
  };
  const isCluster = redis.isCluster;
  const shards: TopicShards = isCluster ? clusterShards(prefix, opts.shards ?? 16) : singleServerShards(prefix);
  const epochKey = `${prefix}epoch`;
  const processId = randomToken(9);

  const readers = new Map<number, ShardReader>();
  const topics = new TopicWindows<RedisTopicWindow>();
  let epoch = '';
  /** Bumped when the epoch in Redis changes under us (Redis was wiped): readers reset. */
  let epochGeneration = 0;
  let closed = false;

  /** Our own connection: its failures surface as failed reads (reported, retried), not as process-level noise. */
  function duplicateClient(): Redis | Cluster {
    const client = redis.duplicate();
    client.on('error', () => undefined);
    return client;
  }

  function singleServerReader(): ShardReader {
    const client = duplicateClient() as Redis;
    // Asked first thing, and again whenever the connection is re-established (a new id), ahead
    // of any blocking read: a blocked connection could not answer.
    let clientId: number | undefined;
    const askId = (): Promise<void> =>
      client.client('ID').then(
        (id) => void (clientId = id),
        () => undefined,
      );
    const started = askId();
    client.on('ready', () => void askId());
    return {
      shard: 0,
      client,
      looping: false,
      started,
      wakeKey: undefined,
      lastWakeId: '0',
      failures: new FailureStreak('Reading the Redis event log', opts.onError),
      async wake() {
        if (clientId !== undefined) await redis.call('CLIENT', 'UNBLOCK', String(clientId)).catch(() => undefined);
      },
    };
  }

  function clusterReader(shard: number): ShardReader {
    const wakeKey = shardKey(prefix, shard, `w:${processId}`);
    return {
      shard,
      client: duplicateClient(),
      looping: false,
      started: Promise.resolve(),
      wakeKey,
      lastWakeId: '0',
      failures: new FailureStreak(`Reading the Redis event log (shard ${shard})`, opts.onError),
      async wake() {
        // One entry is enough; it expires if this process dies without deleting it.
        await redis
          .multi()
          .xadd(wakeKey, 'MAXLEN', '1', '*', 'w', '1')
          .pexpire(wakeKey, 600_000)
          .exec()
          .catch(() => undefined);
      },
    };
  }

  function readerOf(shard: number): ShardReader {
    let reader = readers.get(shard);
    if (!reader) {
      reader = isCluster ? clusterReader(shard) : singleServerReader();
      readers.set(shard, reader);
    }
    return reader;
  }

  // On one server the reader connection is opened with the log, as it always was.
  const firstReader = isCluster ? undefined : readerOf(0);

  const ready = (async () => {
    await firstReader?.started;
    await redis.set(epochKey, randomToken(9).replace(/-/g, '_'), 'NX');
    epoch = (await redis.get(epochKey)) ?? '';
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
        topic.rewoundAt = undefined;
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

  interface TopicKeys {
    key: string;
    counterKey: string;
  }

  /**
   * The topic's newest position (its last entry, or, all trimmed, its counter) and, when
   * `at` is given, whether Redis still has the event at `at`: its entry is there with the same
   * ordinal, or was trimmed (the oldest entry held is after it). An entry missing from the
   * middle of the stream was lost.
   */
  async function headOf(topic: TopicKeys, at?: Position): Promise<{ head: Position; held: boolean }> {
    // One transaction: the entries and the counter must describe the same moment.
    const multi = redis.multi().xrevrange(topic.key, '+', '-', 'COUNT', 1).get(topic.counterKey);
    if (at) {
      multi.xrange(topic.key, formatStreamId(at.sid), formatStreamId(at.sid));
      multi.xrange(topic.key, '-', '+', 'COUNT', 1);
    }
    const replies = await multi.exec();
    const last = (replies?.[0]?.[1] ?? []) as Array<[string, string[]]>;
    const counter = Number((replies?.[1]?.[1] as string | null) ?? 0);
    const atEntry = ((replies?.[2]?.[1] ?? []) as Array<[string, string[]]>)[0];
    const oldest = ((replies?.[3]?.[1] ?? []) as Array<[string, string[]]>)[0];
    const oldestSid = oldest ? parseStreamId(oldest[0]) : null;
    const held =
      at !== undefined &&
      (atEntry !== undefined
        ? Number(field(atEntry[1], 'n') ?? 0) === at.n
        : oldestSid === null || compareIds(oldestSid, at.sid) > 0);
    const entry = last[0];
    const sid = entry ? parseStreamId(entry[0]) : null;
    if (entry && sid) return { head: { sid, n: Number(field(entry[1], 'n') ?? 0) }, held };
    return { head: { sid: ZERO, n: counter }, held };
  }

  /**
   * Whether events after `position` were trimmed away: the oldest entry still held is
   * further on than the next ordinal (or nothing is held though more were added).
   */
  async function trimmedAfter(topic: TopicKeys, position: Position): Promise<boolean> {
    const first = (await redis.xrange(topic.key, '-', '+', 'COUNT', 1)) as Array<[string, string[]]>;
    const entry = first[0];
    if (entry) return Number(field(entry[1], 'n') ?? 0) > position.n + 1;
    return Number((await redis.get(topic.counterKey)) ?? 0) > position.n;
  }

  function acquire(name: string): Promise<RedisTopicWindow> {
    const key = shards.streamKey(name);
    const counterKey = shards.counterKey(name);
    const shard = shards.shardOf(name);
    return topics.acquire(
      key,
      async () => new RedisTopicWindow(key, counterKey, shard, (await headOf({ key, counterKey })).head, localWindow),
      async () => {
        // The shard's reader is blocked on its old set of topics: make it start over with this one.
        const reader = readerOf(shard);
        await reader.wake();
        ensureReader(reader);
      },
    );
  }

  function release(topic: RedisTopicWindow): void {
    topics.release(topic.key, topic);
  }

  function topicsOf(shard: number): RedisTopicWindow[] {
    const held: RedisTopicWindow[] = [];
    for (const topic of topics.values()) if (topic.shard === shard) held.push(topic);
    return held;
  }

  function ensureReader(reader: ShardReader): void {
    if (reader.looping || closed) return;
    reader.looping = true;
    void readLoop(reader).finally(() => {
      reader.looping = false;
      if (!closed && topicsOf(reader.shard).length > 0) ensureReader(reader);
    });
  }

  async function readLoop(reader: ShardReader): Promise<void> {
    while (!closed && topicsOf(reader.shard).length > 0) {
      try {
        await refreshEpoch();
        const current = topicsOf(reader.shard);
        if (current.length === 0) return;
        const keys = current.map((topic) => topic.key);
        const ids = current.map((topic) => formatStreamId(topic.readerAt.sid));
        if (reader.wakeKey !== undefined) {
          keys.push(reader.wakeKey);
          ids.push(reader.lastWakeId);
        }
        const result = await reader.client.xread('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', ...keys, ...ids);
        reader.failures.succeeded();
        for (const [key, entries] of result ?? []) {
          if (key === reader.wakeKey) {
            reader.lastWakeId = entries.at(-1)?.[0] ?? reader.lastWakeId;
            continue;
          }
          const topic = topics.get(key);
          if (!topic) continue;
          for (const [rawId, fields] of entries) {
            const sid = parseStreamId(rawId);
            const text = field(fields, 'd');
            if (!sid || text === undefined || compareIds(sid, topic.readerAt.sid) <= 0) continue;
            const position = { sid, n: Number(field(fields, 'n') ?? 0) };
            if (position.n <= topic.readerAt.n) {
              // An ordinal again: Redis lost the events after position.n - 1 that this process
              // had read (a failover to a replica that lacked them). Readers in the lost part
              // get a reset; the window holds the new history only.
              topic.restartAt({ sid: topic.readerAt.sid, n: position.n - 1 });
              topic.rewoundAt = position;
            } else if (position.n > topic.readerAt.n + 1) {
              // Ordinals skipped: the events between were trimmed (or lost) before this process
              // read them. The window holds what follows only; readers before it read Redis
              // and get a reset, instead of going on past the hole as if it were not there.
              topic.restartAt({ sid: topic.readerAt.sid, n: position.n - 1 });
            }
            const value = serializer.deserialize(text);
            const id = eventId(position);
            const envelope = withSharedValue<TrackedEnvelope<unknown>>(tracked(id, value), new SharedValue(id, value));
            topic.append({ position, envelope });
          }
          topic.subscribers.announce();
        }
      } catch (cause) {
        if (closed) return;
        // Redis away (restarting, failing over, network): back off, then read again; ioredis
        // reconnects and follows the cluster's new masters.
        await reader.failures.failed(cause);
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
    const resumable = parsed?.epoch === epoch && parsed.position.n > 0 ? parsed.position : undefined;
    const { head, held } = await headOf(topic, resumable);
    const reset = (reason: 'unknown' | 'epoch' | 'trimmed') => ({
      cursor: topic.readerAt,
      first: createReset(reason, eventId(head)),
    });
    if (!parsed) return reset('unknown');
    if (parsed.epoch !== epoch) return reset('epoch');
    if (parsed.position.n > head.n || compareIds(parsed.position.sid, head.sid) > 0) return reset('unknown');
    if (await trimmedAfter(topic, parsed.position)) return reset('trimmed');
    // Not trimmed, yet its entry is gone (or another event has its ordinal): Redis lost it.
    if (parsed.position.n > 0 && !held) return reset('epoch');
    return { cursor: parsed.position, first: undefined };
  }

  /**
   * The next events for a reader behind this process's window, from Redis: up to 100, or a
   * reset when Redis trimmed or lost some of them. Returns the reader's new position.
   */
  async function readBehind(
    topic: RedisTopicWindow,
    cursor: Position,
  ): Promise<{ cursor: Position; items: ReaderItem[] }> {
    if (topic.isLost(cursor)) {
      return { cursor: topic.readerAt, items: [createReset('epoch', eventId(topic.readerAt))] };
    }
    const upTo = topic.contiguousAfter;
    const batch = (await redis.xrange(
      topic.key,
      `(${formatStreamId(cursor.sid)}`,
      formatStreamId(upTo.sid),
      'COUNT',
      100,
    )) as Array<[string, string[]]>;
    // Ordinals have no holes, so what was read must go on from the cursor one by one. A gap
    // is what a publisher trimmed away, possibly between two of our commands: never skip it
    // silently. (Checking for a trim first and reading after would race with the trim.)
    const items: ReaderItem[] = [];
    for (const [rawId, fields] of batch) {
      const sid = parseStreamId(rawId);
      const text = field(fields, 'd');
      const n = Number(field(fields, 'n') ?? 0);
      if (!sid || text === undefined || n !== cursor.n + 1) return trimmedBehind(topic, items);
      cursor = { sid, n };
      items.push(tracked(eventId(cursor), serializer.deserialize(text)));
    }
    // Read up to the window: the reader goes on from there.
    if (cursor.n >= upTo.n) return { cursor, items };
    // Fewer than asked for, short of the window: the rest was trimmed meanwhile.
    if (batch.length < 100) return trimmedBehind(topic, items);
    return { cursor, items };
  }

  /** What was read so far, then a reset to the head: events after it were trimmed away. */
  async function trimmedBehind(
    topic: RedisTopicWindow,
    items: ReaderItem[],
  ): Promise<{ cursor: Position; items: ReaderItem[] }> {
    const { head } = await headOf(topic);
    return { cursor: head, items: [...items, createReset('trimmed', eventId(head))] };
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

  /** Appends with the publish script, then, if asked, waits for the node's replicas to have it. */
  async function append(name: string, data: unknown): Promise<[string, number]> {
    const minId = maxAgeMs > 0 ? `${Math.max(0, Date.now() - maxAgeMs)}-0` : '';
    const args = [
      PUBLISH_SCRIPT,
      2,
      shards.streamKey(name),
      shards.counterKey(name),
      approximate ? '~' : '=',
      String(maxEvents),
      serializer.serialize(data),
      minId,
    ] as const;
    const reply = (await redis.eval(...args)) as [string, number];
    if (waitForReplicas > 0) {
      // WAIT names no key: it must go on the connection that wrote the event. (In a pipeline it
      // would keep ioredis from following a MOVED after a failover.)
      const connection = isCluster ? connectionOf(redis as Cluster, args[2]) : redis;
      await connection?.call('WAIT', String(waitForReplicas), String(waitTimeoutMs)).catch(() => undefined);
    }
    return reply;
  }

  const log = {
    get epoch() {
      return epoch;
    },

    async publish<T>(name: string, data: T): Promise<string> {
      if (closed) throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'The event log is closed' });
      await ready;
      let reply: [string, number];
      try {
        reply = await append(name, data);
      } catch (cause) {
        throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'Redis did not take the event', cause });
      }
      const [rawId, n] = reply;
      return eventId({ sid: parseStreamId(rawId) ?? ZERO, n });
    },

    subscribe(name: string, options: EventLogSubscribeOptions = {}): PushableGenerator<ReaderItem> {
      return subscribeRemote(store, name, options);
    },

    async close(): Promise<void> {
      closed = true;
      topics.closeAll();
      const wakeKeys = [...readers.values()].flatMap((reader) =>
        reader.wakeKey === undefined ? [] : [reader.wakeKey],
      );
      for (const reader of readers.values()) reader.client.disconnect();
      readers.clear();
      // One key per command: on a cluster they live in different slots.
      await Promise.all(wakeKeys.map((key) => redis.del(key).catch(() => undefined)));
    },
  };
  return log as unknown as EventLog;
}
