/**
 * A procedure backed by the memory event log, end to end in both wire modes: resume across
 * broken connections without loss or repetition, and an impossible resume surfaced to the
 * app as a reset (client callback and per-operation callback), with events continuing.
 */
import { createTRPCClient } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { afterEach, describe, expect, test } from 'vitest';
import { createSSEClient, sseLink, type ResetInfo } from '../../src/client/index.js';
import { createMemoryEventLog } from '../../src/log/memoryEventLog.js';
import { z } from 'zod';
import { startChaosProxy } from '../helpers/chaosProxy.js';
import { Collector } from '../helpers/collector.js';
import { startNodeServer } from '../helpers/servers.js';

function feedRouter(log: ReturnType<typeof createMemoryEventLog>) {
  const t = initTRPC.create();
  return t.router({
    feed: t.procedure
      .input(z.object({ room: z.string(), lastEventId: z.string().nullish() }))
      .subscription(({ input, signal }) =>
        log.subscribe<string>(`room:${input.room}`, { lastEventId: input.lastEventId, signal }),
      ),
  });
}
type FeedRouter = ReturnType<typeof feedRouter>;

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe.each(['distinct', 'multiplexed'] as const)('%s mode', (mode) => {
  async function setup(logOptions: { maxEvents?: number } = {}, serverOptions: Record<string, unknown> = {}) {
    const log = createMemoryEventLog(logOptions);
    const server = await startNodeServer(feedRouter(log), serverOptions as never);
    const proxy = await startChaosProxy(() => server.port);
    const resets: ResetInfo[] = [];
    let onFirstReset!: () => void;
    const firstReset = new Promise<void>((resolve) => (onFirstReset = resolve));
    const sse = createSSEClient({
      url: `http://127.0.0.1:${proxy.port}/trpc`,
      mode,
      retry: { minDelayMs: 5, maxDelayMs: 20 },
      onReset: (info) => {
        resets.push(info);
        onFirstReset();
      },
    });
    cleanup.push(
      () => log.close(),
      () => server.close(),
      () => proxy.close(),
      () => sse.close(),
    );
    const trpc = createTRPCClient<FeedRouter>({ links: [sseLink({ client: sse })] });
    return { log, server, proxy, resets, firstReset, trpc };
  }

  test('replay then live across cuts: every event once, in order', async () => {
    const { log, proxy, trpc } = await setup({ maxEvents: 10_000 });
    for (let i = 0; i < 5; i++) await log.publish('room:a', `m${i}`);
    const c = new Collector<{ id: string; data: string }>();
    trpc.feed.subscribe({ room: 'a' }, c.handlers());
    await c.until(() => c.started >= 1, 'started');
    let published = 5;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 20; i++) await log.publish('room:a', `m${published++}`);
      proxy.cutAll();
      for (let i = 0; i < 20; i++) await log.publish('room:a', `m${published++}`);
      await c.until(() => c.data.at(-1)?.data === `m${published - 1}`, `m${published - 1}`);
    }
    // Subscribed without an id: live from then on (the five before are history).
    expect(c.data.map((d) => d.data)).toEqual(Array.from({ length: published - 5 }, (_, i) => `m${i + 5}`));
    expect(new Set(c.data.map((d) => d.id)).size).toBe(c.data.length);
  });

  test('an impossible resume is a reset: callbacks fire, events go on from now', async () => {
    const { log, proxy, resets, firstReset, trpc } = await setup({ maxEvents: 3 }, { graceMs: 0 });
    const perOperation: ResetInfo[] = [];
    const c = new Collector<{ id: string; data: string }>();
    trpc.feed.subscribe(
      { room: 'b' },
      { ...c.handlers(), context: { onReset: (info: ResetInfo) => perOperation.push(info) } },
    );
    await c.until(() => c.started >= 1, 'started');
    await log.publish('room:b', 'seen');
    await c.untilData(1);
    // While the client cannot reach the server, more happens than the log keeps.
    proxy.blocked = true;
    proxy.cutAll();
    for (let i = 0; i < 10; i++) await log.publish('room:b', `missed ${i}`);
    proxy.blocked = false;
    await firstReset;
    expect(resets[0]).toMatchObject({ reason: 'trimmed', op: { path: 'feed' } });
    expect(perOperation).toHaveLength(1);
    const after = await log.publish('room:b', 'after the reset');
    await c.until(() => c.data.at(-1)?.data === 'after the reset', 'the next event');
    expect(c.data.map((d) => d.data)).toEqual(['seen', 'after the reset']);
    expect(c.data.at(-1)?.id).toBe(after);
    expect(c.errors).toEqual([]);
  });
});

test('fan-out: an event of the log is serialized once, not once per subscriber', async () => {
  let serializations = 0;
  const counting = {
    serialize: (value: unknown) => {
      serializations++;
      return value;
    },
    deserialize: (value: unknown) => value,
  };
  const log = createMemoryEventLog();
  const t = initTRPC.create({ transformer: counting });
  const router = t.router({
    feed: t.procedure
      .input(z.object({ lastEventId: z.string().nullish() }).optional())
      .subscription(({ input, signal }) =>
        log.subscribe<{ n: number }>('all', { lastEventId: input?.lastEventId, signal }),
      ),
  });
  const server = await startNodeServer(router);
  cleanup.push(
    () => log.close(),
    () => server.close(),
  );
  const collectors = await Promise.all(
    (['distinct', 'multiplexed'] as const).flatMap((mode) =>
      Array.from({ length: 25 }, async () => {
        const sse = createSSEClient({ url: server.url, mode, retry: { minDelayMs: 5, maxDelayMs: 20 } });
        cleanup.push(() => sse.close());
        const c = new Collector<{ id: string; data: { n: number } }>();
        createTRPCClient<typeof router>({ links: [sseLink({ client: sse, transformer: counting })] }).feed.subscribe(
          undefined,
          c.handlers(),
        );
        await c.until(() => c.started >= 1, 'started');
        return c;
      }),
    ),
  );
  // Every subscription is reading before the events go out.
  await new Promise((resolve) => setImmediate(resolve));
  const before = serializations;
  for (let n = 0; n < 10; n++) await log.publish('all', { n });
  await Promise.all(collectors.map((c) => c.untilData(10)));
  for (const c of collectors) expect(c.data.map((d) => d.data.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // 50 subscribers × 10 events, one serialization per event (all ask for tagged bytes alike).
  expect(serializations - before).toBe(10);
});
