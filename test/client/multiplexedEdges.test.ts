/** Multiplexed edge cases: closing, credentials changing, parsers in front, bounds, failing setups. */
import { createTRPCClient } from '@trpc/client';
import { initTRPC, TRPCError } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import express from 'express';
import express4 from 'express4';
import { createServer } from 'node:http';
import { afterEach, describe, expect, test } from 'vitest';
import { createSSEMiddleware } from '../../src/adapters/express.js';
import { createSSEClient, sseLink } from '../../src/client/index.js';
import { startChaosProxy } from '../helpers/chaosProxy.js';
import { Collector } from '../helpers/collector.js';
import { contextCalls, createTestRouter, type TestRouter } from '../helpers/router.js';
import { closeServer, listen, startNodeServer } from '../helpers/servers.js';

const FAST = { minDelayMs: 5, maxDelayMs: 20 };
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function clientFor(url: string, extra: Record<string, unknown> = {}) {
  const sse = createSSEClient({ url, retry: FAST, mode: 'multiplexed', ...extra });
  cleanup.push(() => sse.close());
  return { sse, trpc: createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] }) };
}

test('close() ends the connection on the server at once, not after the grace window', async () => {
  const fixture = createTestRouter();
  const server = await startNodeServer(fixture.router, { graceMs: 60_000 });
  cleanup.push(() => server.close());
  const { sse, trpc } = clientFor(server.url);
  const c = new Collector();
  trpc.idle.subscribe(undefined, c.handlers());
  await c.untilData(1);
  const finished = fixture.probe.next('finished');
  sse.close();
  await finished;
  await expect.poll(() => server.core.connections).toBe(0);
});

test('lazy: the connection closes when the last subscription completes by itself', async () => {
  const fixture = createTestRouter();
  const server = await startNodeServer(fixture.router, { graceMs: 60_000 });
  cleanup.push(() => server.close());
  const { trpc } = clientFor(server.url, { lazy: { enabled: true, closeMs: 0 } });
  const c = new Collector();
  trpc.plain.subscribe(2, c.handlers());
  await c.until(() => c.completed, 'completion');
  await expect.poll(() => server.core.connections).toBe(0);
});

test('new credentials make a new connection (createContext sees them), not a resume', async () => {
  const fixture = createTestRouter();
  const server = await startNodeServer(fixture.router, { graceMs: 60_000 });
  cleanup.push(() => server.close());
  const proxy = await startChaosProxy(() => server.port);
  cleanup.push(() => proxy.close());
  let user = 'erin';
  const { trpc } = clientFor(`http://127.0.0.1:${proxy.port}/trpc`, {
    headers: () => ({ authorization: `Bearer ${user}` }),
  });
  const first = new Collector<{ user: string }>();
  trpc.secret.subscribe(undefined, first.handlers());
  await first.untilData(1);
  expect(first.data[0]?.user).toBe('erin');
  const before = contextCalls.count;
  user = 'frank';
  const second = new Collector<{ user: string }>();
  const live = new Collector();
  trpc.idle.subscribe(undefined, live.handlers());
  await live.untilData(1);
  proxy.cutAll();
  await live.until(() => live.started >= 2, 'a fresh start on a new connection');
  trpc.secret.subscribe(undefined, second.handlers());
  await second.untilData(1);
  expect(second.data[0]?.user).toBe('frank');
  expect(contextCalls.count - before).toBe(1);
});

test('detached connections count against maxStreams: no unbounded growth', async () => {
  const fixture = createTestRouter();
  const server = await startNodeServer(fixture.router, { graceMs: 60_000, maxStreams: 3 });
  cleanup.push(() => server.close());
  // Each holds a subscription: a connection with none ends with its stream (nothing to resume).
  const subscribe = encodeURIComponent(JSON.stringify([{ op: 'subscribe', id: '1', path: 'idle' }]));
  for (let i = 0; i < 6; i++) {
    const response = await fetch(`${server.url}?subscribe=${subscribe}`, { headers: { accept: 'text/event-stream' } });
    if (response.status !== 200) {
      expect(response.status).toBe(503);
      expect((await response.json()) as unknown).toMatchObject({ error: { data: { code: 'SERVICE_UNAVAILABLE' } } });
      continue;
    }
    await response.body!.cancel();
  }
  expect(server.core.connections).toBe(3);
});

describe.each(['distinct', 'multiplexed'] as const)('%s: an observable whose setup throws', (mode) => {
  test('fails typed, once, and frees its stream', async () => {
    const t = initTRPC.create();
    const router = t.router({
      broken: t.procedure.subscription(() =>
        observable<number>(() => {
          throw new TRPCError({ code: 'CONFLICT', message: 'cannot start' });
        }),
      ),
    });
    const errors: string[] = [];
    const server = await startNodeServer(router, {
      onError: ({ error }: { error: TRPCError }) => errors.push(error.code),
    });
    cleanup.push(() => server.close());
    const sse = createSSEClient({ url: server.url, retry: FAST, mode });
    cleanup.push(() => sse.close());
    const c = new Collector();
    createTRPCClient<typeof router>({ links: [sseLink({ client: sse })] }).broken.subscribe(undefined, c.handlers());
    const error = await c.untilError();
    expect(error.data?.code).toBe('CONFLICT');
    expect(errors).toEqual(['CONFLICT']);
    if (mode === 'distinct') await expect.poll(() => server.core.openStreams).toBe(0);
  });
});

test.each([
  ['express 5', express],
  ['express 4', express4],
])(
  '%s with body parsers in front (they skip our JSON bodies) still serves control requests',
  async (_name, expressModule) => {
    const fixture = createTestRouter();
    const app = expressModule();
    app.use(expressModule.urlencoded({ extended: false }));
    app.use(expressModule.text());
    const middleware = createSSEMiddleware({ router: fixture.router });
    app.use('/trpc', middleware);
    const server = createServer(app);
    const port = await listen(server);
    cleanup.push(async () => {
      middleware.core.close();
      await closeServer(server);
    });
    const { trpc } = clientFor(`http://127.0.0.1:${port}/trpc`);
    const c = new Collector<{ id: string }>();
    trpc.counter.subscribe({ count: 2 }, c.handlers());
    await c.until(() => c.completed, 'completion');
    expect(c.data.map((d) => d.id)).toEqual(['0', '1']);
  },
);
