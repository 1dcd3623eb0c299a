/**
 * The Redis log and connection directory on a real Redis Cluster (3 masters, 3 replicas):
 * the shared contract, topics on every master, the directory across nodes, Redis losing
 * events, and a master failing over mid-stream.
 */
import { isTrackedEnvelope } from '@trpc/server';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { isReset } from '../../src/log/reset.js';
import type { EventLog } from '../../src/log/types.js';
import { createRedisConnectionDirectory } from '../../src/redis/connectionDirectory.js';
import { createRedisEventLog } from '../../src/redis/redisEventLog.js';
import { clusterShards } from '../../src/redis/topicShards.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redisCluster.js';
import { eventLogContract } from './eventLogContract.js';

let cluster: RedisCluster;
const cleanup: Array<() => unknown> = [];
let prefixes = 0;

beforeAll(async () => {
  cluster = await startRedisCluster();
}, 90_000);
afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await cluster?.stop();
});

/** One client for the contract's logs (each log has its own key prefix, so its own epoch). */
let contractClient: Cluster | undefined;
for (const consume of ['pull', 'push'] as const) {
  eventLogContract(
    {
      name: 'redis cluster',
      readsAfterPublishers: true,
      create: async (opts) =>
        createRedisEventLog({
          redis: (contractClient ??= cluster.client()),
          keyPrefix: `contract${++prefixes}:`,
          approximateTrim: false,
          blockMs: 1_000,
          ...(opts.maxEvents === undefined ? {} : { maxEvents: opts.maxEvents }),
          ...(opts.maxAgeMs === undefined ? {} : { maxAgeMs: opts.maxAgeMs }),
        }),
    },
    consume,
  );
}

function log(options: Partial<Parameters<typeof createRedisEventLog>[0]> & { keyPrefix: string }): EventLog {
  // Failures while a master is down are expected here; the failover test listens for them.
  const created = createRedisEventLog({
    redis: cluster.client(),
    blockMs: 1_000,
    onError: () => undefined,
    ...options,
  });
  cleanup.push(() => created.close());
  return created;
}

/** Reads `iterator` until `until` says so: event data, and 'reset' where a reset came. */
async function collect(iterator: AsyncIterator<unknown>, until: (received: unknown[]) => boolean): Promise<unknown[]> {
  const received: unknown[] = [];
  while (!until(received)) {
    const next = await iterator.next();
    if (next.done) break;
    if (isReset(next.value)) received.push('reset');
    else if (isTrackedEnvelope(next.value)) received.push(next.value[1]);
  }
  return received;
}

test('topics spread over every master; one process reads many of them and each gets its events in order', async () => {
  const prefix = 'spread:';
  const shards = clusterShards(prefix, 16);
  const topics = Array.from({ length: 40 }, (_, i) => `topic-${i}`);
  // The topics' streams really live on all three masters.
  const masters = new Set(await Promise.all(topics.map((topic) => cluster.masterOf(shards.streamKey(topic)))));
  expect(masters.size).toBe(3);
  const publisher = log({ keyPrefix: prefix });
  /** Connections blocked in XREAD, on every node. */
  const blockedReads = async (): Promise<number> => {
    let count = 0;
    for (const node of cluster.nodes)
      count += (await cluster.clientList(node.port)).filter((line) => line.includes(' cmd=xread ')).length;
    return count;
  };
  const reader = log({ keyPrefix: prefix });
  const aborts = topics.map(() => new AbortController());
  const iterators = topics.map((topic, i) => reader.subscribe<string>(topic, { signal: aborts[i]!.signal }));
  for (const iterator of iterators) await iterator.next(); // checkpoints: every topic is read
  // One blocking reader per shard in use, not one per topic.
  const shardsInUse = new Set(topics.map((topic) => shards.shardOf(topic))).size;
  expect(shardsInUse).toBeLessThan(topics.length);
  await expect.poll(blockedReads).toBe(shardsInUse);
  for (let round = 0; round < 5; round++)
    await Promise.all(topics.map((topic) => publisher.publish(topic, `${topic}#${round}`)));
  const received = await Promise.all(iterators.map((iterator) => collect(iterator, (items) => items.length === 5)));
  expect(received).toEqual(topics.map((topic) => [0, 1, 2, 3, 4].map((round) => `${topic}#${round}`)));
  for (const abort of aborts) abort.abort();
});

test('Redis lost events the readers had (ordinals come again): live readers and resumes get a reset', async () => {
  const prefix = 'lost:';
  const publisher = log({ keyPrefix: prefix });
  const reader = log({ keyPrefix: prefix });
  const abort = new AbortController();
  const live = reader.subscribe<number>('t', { signal: abort.signal });
  await live.next(); // checkpoint
  const ids: string[] = [];
  for (let i = 1; i <= 5; i++) ids.push(await publisher.publish('t', i));
  expect(await collect(live, (items) => items.length === 5)).toEqual([1, 2, 3, 4, 5]);
  // What a failover to a replica that lacked the last two events leaves: they are gone, and
  // the counter is back where the replica had it.
  const redis = cluster.client();
  const shards = clusterShards(prefix, 16);
  await redis.xdel(shards.streamKey('t'), ids[3]!.split('-').slice(2).join('-'), ids[4]!.split('-').slice(2).join('-'));
  await redis.decrby(shards.counterKey('t'), 2);
  for (let i = 6; i <= 8; i++) await publisher.publish('t', i);
  // The live reader held event 5, which is gone: a reset, never a silent jump back.
  const afterLoss = await collect(live, (items) => items.at(-1) === 8);
  expect(afterLoss[0]).toBe('reset');
  expect(afterLoss.filter((item) => item !== 'reset')).toEqual([6, 7, 8].slice(3 - (afterLoss.length - 1)));
  // A client resuming from a lost event: reset, reason epoch.
  const lostResume = reader.subscribe('t', { lastEventId: ids[4], signal: abort.signal });
  expect((await lostResume.next()).value).toMatchObject({ reason: 'epoch' });
  // A client resuming from an event Redis kept gets the new history, no reset.
  const keptResume = reader.subscribe<number>('t', { lastEventId: ids[2], signal: abort.signal });
  expect(await collect(keptResume, (items) => items.length === 3)).toEqual([6, 7, 8]);
  abort.abort();
});

test('a key prefix with a hash tag, or a bad shard count: a clear error at creation', () => {
  expect(() => createRedisEventLog({ redis: cluster.client(), keyPrefix: 'app{1}:' })).toThrow(TypeError);
  expect(() => createRedisEventLog({ redis: cluster.client(), keyPrefix: 'app:', shards: 0 })).toThrow(TypeError);
});

test('the directory hands a control request to its owner across nodes, 10 out of 10', async () => {
  const prefix = 'dir:';
  const owner = createRedisConnectionDirectory({ redis: cluster.client(), keyPrefix: prefix });
  const other = createRedisConnectionDirectory({ redis: cluster.client(), keyPrefix: prefix });
  owner.serve(async (request) => ({ status: 200, headers: {}, body: `owner got ${request.body}` }));
  other.serve(async () => ({ status: 500, headers: {}, body: 'not the owner' }));
  const connectionIds = Array.from({ length: 10 }, (_, i) => `connection-${i}`);
  const recordMasters = new Set(await Promise.all(connectionIds.map((id) => cluster.masterOf(`${prefix}conn:${id}`))));
  expect(recordMasters.size).toBeGreaterThan(1);
  for (const connectionId of connectionIds) await owner.announce(connectionId);
  const answers = await Promise.all(
    connectionIds.map((connectionId) => other.forward({ connectionId, secret: 's', body: connectionId })),
  );
  expect(answers.map((answer) => answer?.body)).toEqual(connectionIds.map((id) => `owner got ${id}`));
  // A connection nobody holds: null (the core answers 404).
  expect(await other.forward({ connectionId: 'nobody', secret: 's', body: '' })).toBeNull();
  await owner.close();
  await other.close();
});

test('the directory still reaches the owner after its channel’s master fails over', async () => {
  const prefix = 'dirfail:';
  const owner = createRedisConnectionDirectory({ redis: cluster.client(), keyPrefix: prefix });
  const applied: string[] = [];
  owner.serve(async (request) => {
    applied.push(request.body);
    return { status: 200, headers: {}, body: `owner got ${request.body}` };
  });
  await owner.announce('c');
  // The owner's channel: the one sharded channel of this prefix, on whichever master has its slot.
  const admin = cluster.client();
  let channelMaster: number | undefined;
  await vi.waitFor(
    async () => {
      for (const node of admin.nodes('master')) {
        const channels = (await node.call('PUBSUB', 'SHARDCHANNELS', `${prefix}*`)) as string[];
        if (channels.length > 0) channelMaster = node.options.port;
      }
      expect(channelMaster).toBeDefined();
    },
    { timeout: 10_000, interval: 100 },
  );
  const replica = await cluster.replicaOf(channelMaster!);
  const other = createRedisConnectionDirectory({ redis: cluster.client(), keyPrefix: prefix });
  expect((await other.forward({ connectionId: 'c', secret: 's', body: 'before' }))?.body).toBe('owner got before');
  await cluster.failover(replica);
  // The owner's subscription moves to the new master once its client learns the new slot map
  // (the owner checks it can hear itself, every second).
  let attempt = 0;
  await vi.waitFor(
    async () => {
      const body = `first ${++attempt}`;
      expect((await other.forward({ connectionId: 'c', secret: 's', body }))?.body).toBe(`owner got ${body}`);
    },
    { timeout: 20_000, interval: 200 },
  );
  // From then on, every request reaches the owner, once.
  for (let i = 0; i < 10; i++)
    expect((await other.forward({ connectionId: 'c', secret: 's', body: `after ${i}` }))?.body).toBe(
      `owner got after ${i}`,
    );
  expect(new Set(applied).size).toBe(applied.length);
  await owner.close();
  await other.close();
});

test('owner records on several nodes outlive their ttl while renewed, and fade once closed', async () => {
  const prefix = 'renew:';
  const ttlMs = 1_500;
  const redis = cluster.client();
  const directory = createRedisConnectionDirectory({ redis: cluster.client(), keyPrefix: prefix, ttlMs });
  const connectionIds = Array.from({ length: 10 }, (_, i) => `connection-${i}`);
  for (const connectionId of connectionIds) await directory.announce(connectionId);
  // Every record is still there after more than twice its ttl: renewals (one SET each) worked.
  const start = Date.now();
  let checks = 0;
  while (Date.now() - start < ttlMs * 2.5) {
    const present = await Promise.all(connectionIds.map((id) => redis.exists(`${prefix}conn:${id}`)));
    expect(present).toEqual(connectionIds.map(() => 1));
    checks++;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(checks).toBeGreaterThan(1);
  await directory.close();
  const present = await Promise.all(connectionIds.map((id) => redis.exists(`${prefix}conn:${id}`)));
  expect(present).toEqual(connectionIds.map(() => 0));
});

/**
 * Publishes numbers to one topic, in order, one at a time, while `disrupt` runs against the
 * topic's master, and reads them from another process's log. Returns what was acknowledged,
 * what failed (maybe stored, maybe not), and what the reader got.
 */
async function streamThrough(
  prefix: string,
  disrupt: (master: number, replica: number) => Promise<void>,
): Promise<{
  acked: number[];
  failed: number[];
  received: Array<number | 'reset'>;
  errors: unknown[];
  /** Whether the topic's slot is served by the old master's replica now. */
  failedOver: boolean;
}> {
  const errors: unknown[] = [];
  const publisher = log({ keyPrefix: prefix, maxEvents: 100_000, waitForReplicas: 1 });
  const reader = log({ keyPrefix: prefix, onError: (error) => errors.push(error) });
  const key = clusterShards(prefix, 16).streamKey('feed');
  const master = await cluster.masterOf(key);
  const replica = await cluster.replicaOf(master);
  const abort = new AbortController();
  const iterator = reader.subscribe<number>('feed', { signal: abort.signal });
  await iterator.next(); // checkpoint
  const END = -1;
  const receiving = collect(iterator, (items) => items.at(-1) === END);
  const acked: number[] = [];
  const failed: number[] = [];
  let disrupted: Promise<void> | undefined;
  let settled = false;
  // At least 1,500 events, and 300 more once the failover is over.
  let after = 0;
  for (let i = 0; i < 1_500 || !settled || after < 300; i++) {
    if (i === 500) disrupted = disrupt(master, replica).finally(() => (settled = true));
    if (settled) after++;
    try {
      await publisher.publish('feed', i);
      acked.push(i);
    } catch {
      // Not known to be stored: it may or may not be delivered.
      failed.push(i);
      // A cluster without a master for the slot may refuse at once, without any I/O: pace the
      // retries as a publisher would, so the failover's own timers (and this test's) run.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (failed.length > 5_000) throw new Error('publishes kept failing: the cluster did not recover');
  }
  await disrupted;
  await vi.waitFor(() => publisher.publish('feed', END), { timeout: 20_000, interval: 100 });
  const received = (await receiving).filter((item) => item !== END) as Array<number | 'reset'>;
  abort.abort();
  return { acked, failed, received, errors, failedOver: (await cluster.masterOf(key)) === replica };
}

function check(result: Awaited<ReturnType<typeof streamThrough>>): { lost: number[]; resets: number } {
  const numbers = result.received.filter((item): item is number => item !== 'reset');
  // Never a duplicate, never out of order.
  for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBeGreaterThan(numbers[i - 1]!);
  // Nothing delivered that was never published.
  const failed = new Set(result.failed);
  const acked = new Set(result.acked);
  expect(numbers.filter((n) => !acked.has(n) && !failed.has(n))).toEqual([]);
  const got = new Set(numbers);
  return {
    lost: result.acked.filter((n) => !got.has(n)),
    resets: result.received.filter((item) => item === 'reset').length,
  };
}

test(
  'a clean master failover (CLUSTER FAILOVER) mid-stream: every acknowledged event once, in order, no reset',
  { timeout: 90_000 },
  async () => {
    const result = await streamThrough('manual:', (_master, replica) => cluster.failover(replica));
    const { lost, resets } = check(result);
    expect(result.failedOver).toBe(true);
    expect(result.acked.length).toBeGreaterThanOrEqual(1_000);
    expect(lost).toEqual([]);
    expect(resets).toBe(0);
  },
);

test(
  'a master killed mid-stream (its replica takes over): every acknowledged event once, in order, or a reset',
  { timeout: 90_000 },
  async () => {
    const result = await streamThrough('killed:', async (master, replica) => {
      await cluster.kill(master);
      // The replica is promoted once the other masters have seen the master fail. Until then
      // the cluster still says `ok` (nobody has noticed yet), so wait for the promotion itself:
      // a master restarted before it would come back empty and keep its slots.
      await cluster.promoted(replica);
      await cluster.waitHealthy();
      // The old master comes back empty and becomes the new master's replica: until it has
      // synced, each publish waits `waitTimeoutMs` for a replica that is not there.
      await cluster.restart(master);
      await cluster.waitHealthy();
    });
    const { lost, resets } = check(result);
    expect(result.failedOver).toBe(true);
    expect(result.acked.length).toBeGreaterThanOrEqual(1_000);
    // Acknowledged events are on the replica (waitForReplicas: 1): none lost, so no reset owed.
    // Were one lost anyway, the reader must have been told.
    if (lost.length > 0) expect(resets).toBeGreaterThan(0);
    expect(lost).toEqual([]);
    // The reader's connection to the dead master failed: it said so, once per run of failures.
    expect(result.errors.length).toBeGreaterThan(0);
    console.info(
      `killed master: ${result.acked.length} acknowledged, ${result.failed.length} failed publishes, ${resets} resets`,
    );
  },
);
