/** The Redis Streams log against a real redis-server: the shared contract, and Redis restarting. */
import { Redis } from 'ioredis';
import { isTrackedEnvelope } from '@trpc/server';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { createRedisEventLog } from '../../src/redis/redisEventLog.js';
import { PUSH_SOURCE, pushSourceOf, type PushHandle, type PushSink } from '../../src/log/pushSource.js';
import { isCheckpoint, isReset } from '../../src/log/reset.js';
import { TopicSubscribers } from '../../src/log/topicSubscribers.js';
import { startRedisServer, type RedisServer } from '../helpers/redisServer.js';
import { eventLogContract } from './eventLogContract.js';

let redisServer: RedisServer;
const clients: Redis[] = [];
let prefixes = 0;

beforeAll(async () => {
  redisServer = await startRedisServer();
});
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await redisServer?.kill();
});

function client(): Redis {
  const redis = new Redis({
    port: redisServer.port,
    host: '127.0.0.1',
    maxRetriesPerRequest: null,
    lazyConnect: false,
  });
  // The restart test drops every connection on purpose; ioredis reconnects by itself.
  redis.on('error', () => undefined);
  clients.push(redis);
  return redis;
}

for (const consume of ['pull', 'push'] as const) {
  eventLogContract(
    {
      name: 'redis',
      readsAfterPublishers: true,
      // A fresh key prefix per log: a separate log (and epoch) on the same server.
      create: async (opts) =>
        createRedisEventLog({
          redis: client(),
          keyPrefix: `test${++prefixes}:`,
          approximateTrim: false,
          blockMs: 1_000,
          ...(opts.maxEvents === undefined ? {} : { maxEvents: opts.maxEvents }),
          ...(opts.maxAgeMs === undefined ? {} : { maxAgeMs: opts.maxAgeMs }),
        }),
    },
    consume,
  );
}

test('two processes’ logs on one Redis: an event published by one reaches readers of the other', async () => {
  const a = createRedisEventLog({ redis: client(), keyPrefix: 'shared:' });
  const b = createRedisEventLog({ redis: client(), keyPrefix: 'shared:' });
  const abort = new AbortController();
  const iterator = b.subscribe<string>('room', { signal: abort.signal });
  expect(isCheckpoint((await iterator.next()).value)).toBe(true);
  const id = await a.publish('room', 'hello from a');
  const next = await iterator.next();
  expect(next.value).toEqual(expect.arrayContaining([id, 'hello from a']));
  expect(a.epoch).toBe(b.epoch);
  abort.abort();
  await a.close();
  await b.close();
});

test(
  'Redis restarted empty mid-stream: readers get an epoch reset, then events again',
  { timeout: 30_000 },
  async () => {
    const log = createRedisEventLog({ redis: client(), keyPrefix: 'restart:', blockMs: 200 });
    const abort = new AbortController();
    const iterator = log.subscribe<string>('room', { signal: abort.signal });
    await iterator.next(); // checkpoint
    await log.publish('room', 'before');
    expect((await iterator.next()).value).toEqual(expect.arrayContaining(['before']));
    const epochBefore = log.epoch;
    await redisServer.restart();
    // The reader sees the new epoch once Redis is back, and says so.
    const reset = await iterator.next();
    expect(isReset(reset.value)).toBe(true);
    expect(reset.value).toMatchObject({ reason: 'epoch' });
    expect(log.epoch).not.toBe(epochBefore);
    let id: string | undefined;
    for (let i = 0; i < 50 && id === undefined; i++) {
      id = await log.publish('room', 'after').catch(() => undefined);
    }
    const next = await iterator.next();
    expect(next.value).toEqual(expect.arrayContaining([id, 'after']));
    abort.abort();
    await log.close();
  },
);

test('one blocking reader per process, however many subscribers and topics', async () => {
  const admin = client();
  const clientCount = async () =>
    String(await admin.call('CLIENT', 'LIST'))
      .trim()
      .split('\n').length;
  const log = createRedisEventLog({ redis: client(), keyPrefix: 'fanout:', blockMs: 500 });
  await log.publish('warm', 0);
  const before = await clientCount();
  const aborts: AbortController[] = [];
  const readers = Array.from({ length: 50 }, (_, i) => {
    const abort = new AbortController();
    aborts.push(abort);
    return log.subscribe<number>(`topic-${i % 10}`, { signal: abort.signal });
  });
  for (const reader of readers) await reader.next(); // checkpoints: all 50 are reading
  const published = await Promise.all(Array.from({ length: 10 }, (_, i) => log.publish(`topic-${i}`, i)));
  const received = await Promise.all(readers.map((reader) => reader.next()));
  expect(received.map((r) => (r.value as unknown[])[0])).toEqual(readers.map((_, i) => published[i % 10]));
  // The log's own reader connection was opened at creation; no connection per subscriber.
  expect((await clientCount()) - before).toBeLessThanOrEqual(0);
  for (const abort of aborts) abort.abort();
  await log.close();
});

test('a pushed reader stopped while Redis answers its resume does not stay registered', async () => {
  // Spies that call through: which readers were registered with a topic, and removed.
  const adds = vi.spyOn(TopicSubscribers.prototype, 'add');
  const deletes = vi.spyOn(TopicSubscribers.prototype, 'delete');
  const redis = client();
  const log = createRedisEventLog({ redis, keyPrefix: `stop${++prefixes}:`, blockMs: 1_000 });
  const sinkInto = (items: unknown[]): PushSink => ({
    value: (value) => {
      items.push(value);
      return true;
    },
    drained: () => Promise.resolve(),
    complete: () => undefined,
    fail: () => undefined,
  });
  try {
    // A live reader keeps the topic read.
    const liveItems: unknown[] = [];
    pushSourceOf(log.subscribe('t'))![PUSH_SOURCE](sinkInto(liveItems), {});
    await expect.poll(() => liveItems.length, { timeout: 10_000 }).toBe(1); // its checkpoint
    const id = await log.publish('t', 1);
    // A resuming reader asks Redis for the topic's head (a MULTI); it is stopped right then.
    // Filled in below; the MULTI may come before the call that makes the handle returns.
    const resuming: { handle?: PushHandle } = {};
    const multi = redis.multi.bind(redis);
    redis.multi = ((...args: Parameters<typeof multi>) => {
      resuming.handle?.stop();
      redis.multi = multi;
      return multi(...args);
    }) as typeof redis.multi;
    const stoppedItems: unknown[] = [];
    resuming.handle = pushSourceOf(log.subscribe('t', { lastEventId: id }))![PUSH_SOURCE](sinkInto(stoppedItems), {});
    await log.publish('t', 2);
    await expect.poll(() => liveItems.filter(isTrackedEnvelope).length, { timeout: 10_000 }).toBe(2);
    expect(stoppedItems).toEqual([]);
    // Replay the registrations in call order (a delete before its add removes nothing).
    const events = [
      ...adds.mock.calls.map((call, i) => ({ order: adds.mock.invocationCallOrder[i]!, add: true, reader: call[0] })),
      ...deletes.mock.calls.map((call, i) => ({
        order: deletes.mock.invocationCallOrder[i]!,
        add: false,
        reader: call[0],
      })),
    ].sort((a, b) => a.order - b.order);
    const live = new Set<unknown>();
    for (const event of events) {
      if (event.add) live.add(event.reader);
      else live.delete(event.reader);
    }
    // Only the live reader is still registered.
    expect(live.size).toBe(1);
  } finally {
    adds.mockRestore();
    deletes.mockRestore();
    await log.close();
  }
});

test('a reader whose new topic every other reader left while it was being set up still gets events', async () => {
  const redis = client();
  const log = createRedisEventLog({ redis, keyPrefix: `race${++prefixes}:`, blockMs: 1_000 });
  // Setting a new topic up interrupts the blocking reader (CLIENT UNBLOCK); right then, another
  // reader comes for the same topic and leaves again.
  const call = redis.call.bind(redis) as (...args: unknown[]) => Promise<unknown>;
  let raced = false;
  (redis as { call: unknown }).call = async (...args: unknown[]) => {
    if (!raced && args[0] === 'CLIENT' && args[1] === 'UNBLOCK') {
      raced = true;
      const passerBy = log.subscribe('race');
      await passerBy.next();
      await passerBy.return(undefined);
    }
    return call(...args);
  };
  const items: unknown[] = [];
  pushSourceOf(log.subscribe('race'))![PUSH_SOURCE](
    {
      value: (value) => items.push(value) > 0,
      drained: () => Promise.resolve(),
      complete: () => undefined,
      fail: () => undefined,
    },
    {},
  );
  await expect.poll(() => items.length, { timeout: 10_000 }).toBe(1); // its checkpoint
  expect(raced).toBe(true);
  const id = await log.publish('race', 'hello');
  await expect
    .poll(() => items.filter(isTrackedEnvelope).map((envelope) => envelope[0]), { timeout: 10_000 })
    .toEqual([id]);
  await log.close();
});

test('events trimmed between a behind reader’s check and its read: a reset, never a silent gap', async () => {
  const dataOf = (value: unknown) => (isTrackedEnvelope(value) ? value[1] : value);
  const redis = client();
  // A publisher trims the topic right before the reader's XRANGE behind the window (the
  // race a busy topic runs into): the reader must learn it lost events.
  const xrange = redis.xrange.bind(redis) as (...args: unknown[]) => Promise<unknown>;
  let trimNext = false;
  (redis as { xrange: unknown }).xrange = async (...args: unknown[]) => {
    if (trimNext && typeof args[1] === 'string' && args[1].startsWith('(')) {
      trimNext = false;
      await redis.xtrim(args[0] as string, 'MAXLEN', 3);
    }
    return xrange(...args);
  };
  const log = createRedisEventLog({
    redis,
    keyPrefix: `trimrace${++prefixes}:`,
    maxEvents: 1_000,
    localWindow: 5,
    approximateTrim: false,
    blockMs: 1_000,
  });
  const abort = new AbortController();
  const behind = log.subscribe<number>('t', { signal: abort.signal });
  const live = log.subscribe<number>('t', { signal: abort.signal });
  expect(isCheckpoint((await behind.next()).value)).toBe(true);
  expect(isCheckpoint((await live.next()).value)).toBe(true);
  await log.publish('t', 0);
  expect(dataOf((await behind.next()).value)).toBe(0);
  for (let n = 1; n <= 20; n++) await log.publish('t', n);
  // The process's window (5 events) has moved far past the first reader.
  for (let n = 0; n <= 20; n++) expect(dataOf((await live.next()).value)).toBe(n);
  trimNext = true;
  const next = (await behind.next()).value;
  expect(isReset(next)).toBe(true);
  expect(next).toMatchObject({ reason: 'trimmed' });
  expect(trimNext).toBe(false);
  abort.abort();
  await log.close();
});

test('events trimmed before the process read them: a reset, never a silent gap', async () => {
  const dataOf = (value: unknown) => (isTrackedEnvelope(value) ? value[1] : value);
  const redis = client();
  // The process's blocking reader is held back while a publisher adds events and trims the
  // topic (a slow reader on a busy topic): its next read starts after the trimmed ones.
  let hold: Promise<void> | undefined;
  let parked: (() => void) | undefined;
  const duplicate = redis.duplicate.bind(redis);
  (redis as { duplicate: unknown }).duplicate = (...args: Parameters<typeof duplicate>) => {
    const reader = duplicate(...args);
    const xread = reader.xread.bind(reader) as (...xreadArgs: unknown[]) => Promise<unknown>;
    (reader as { xread: unknown }).xread = async (...xreadArgs: unknown[]) => {
      if (hold) {
        parked?.();
        await hold;
      }
      return xread(...xreadArgs);
    };
    return reader;
  };
  const log = createRedisEventLog({
    redis,
    keyPrefix: `trimunread${++prefixes}:`,
    maxEvents: 3,
    approximateTrim: false,
    blockMs: 200,
  });
  const abort = new AbortController();
  let release = (): void => undefined;
  try {
    const reader = log.subscribe<number>('t', { signal: abort.signal });
    expect(isCheckpoint((await reader.next()).value)).toBe(true);
    await log.publish('t', 0);
    expect(dataOf((await reader.next()).value)).toBe(0);
    hold = new Promise<void>((resolve) => (release = resolve));
    // The read in flight returns (its block ends); the next one waits at the hold.
    await new Promise<void>((resolve) => (parked = resolve));
    let head = '';
    for (let n = 1; n <= 20; n++) head = await log.publish('t', n);
    hold = undefined;
    release();
    // Redis holds 18, 19 and 20 only: 1 to 17 are gone, and the reader is told so.
    expect((await reader.next()).value).toMatchObject({ reason: 'trimmed', lastEventId: head });
    await log.publish('t', 21);
    expect(dataOf((await reader.next()).value)).toBe(21);
  } finally {
    hold = undefined;
    release();
    abort.abort();
    await log.close();
  }
});
