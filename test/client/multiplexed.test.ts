/**
 * The client in multiplexed mode against our server: one stream for everything, batched
 * control requests, lazy connections, resume within the grace window, fresh resubscription
 * past it, and a drain of many clients with nothing lost or repeated.
 */
import { MUX_PATH } from '../../src/protocol.js';
import { createTRPCClient } from '@trpc/client';
import { createServer, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createSSEHandler } from '../../src/adapters/node.js';
import { createSSEClient, sseLink, type SSEClient } from '../../src/client/index.js';
import type { FetchLike } from '../../src/client/options.js';
import { startChaosProxy } from '../helpers/chaosProxy.js';
import { Collector } from '../helpers/collector.js';
import { contextCalls, createTestRouter, testContext, type TestRouter } from '../helpers/router.js';
import { closeServer, listen } from '../helpers/servers.js';

const FAST = { minDelayMs: 5, maxDelayMs: 20 };
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Our server at /trpc, counting what reaches it. */
async function serve(extra: Record<string, unknown> = {}) {
  const fixture = createTestRouter();
  const handler = createSSEHandler({
    router: fixture.router,
    basePath: '/trpc',
    createContext: ({ req, info }) =>
      testContext(
        { get: (n) => (req.headers[n] as string | undefined) ?? null },
        info.connectionParams as Record<string, string> | null,
      ) as never,
    ...extra,
  });
  const counts = { streams: 0, controls: 0 };
  const count = (req: IncomingMessage): void => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== `/trpc/${MUX_PATH}`) return;
    if (req.method === 'GET') counts.streams++;
    if (req.method === 'POST') counts.controls++;
  };
  const server = createServer((req, res) => {
    count(req);
    void handler(req, res);
  });
  const port = await listen(server);
  cleanup.push(async () => {
    handler.core.close();
    await closeServer(server);
  });
  return { ...fixture, core: handler.core, counts, port, url: `http://127.0.0.1:${port}/trpc` };
}

function client(
  url: string,
  extra: Record<string, unknown> = {},
): { sse: SSEClient; trpc: ReturnType<typeof createTRPCClient<TestRouter>> } {
  const sse = createSSEClient({ url, retry: FAST, mode: 'multiplexed', ...extra });
  cleanup.push(() => sse.close());
  return { sse, trpc: createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] }) };
}

describe('one stream per client', () => {
  test('50 subscriptions use exactly one streaming request and one control request', async () => {
    const server = await serve();
    const { trpc, sse } = client(server.url);
    const collectors = Array.from({ length: 50 }, () => new Collector<{ id: string; data: { n: number } }>());
    collectors.forEach((c) => trpc.counter.subscribe({ count: 3 }, c.handlers()));
    await Promise.all(collectors.map((c) => c.until(() => c.completed, 'completion')));
    for (const c of collectors) expect(c.data.map((d) => d.data.n)).toEqual([0, 1, 2]);
    expect(server.counts.streams).toBe(1);
    // Subscribed in the same tick: one batched control request for all fifty.
    expect(server.counts.controls).toBe(1);
    expect(sse.mode).toBe('multiplexed');
  });

  test('subscriptions waiting for the stream ride on its request: first events with no control request', async () => {
    const server = await serve();
    const { trpc } = client(server.url, { lazy: { enabled: true, closeMs: 0 } });
    const collectors = [3, 4, 5].map((count) => {
      const c = new Collector<{ id: string; data: { n: number } }>();
      trpc.counter.subscribe({ count }, c.handlers());
      return c;
    });
    await Promise.all(collectors.map((c) => c.until(() => c.completed, 'completion')));
    expect(collectors.map((c) => c.data.length)).toEqual([3, 4, 5]);
    expect(server.counts.streams).toBe(1);
    expect(server.counts.controls).toBe(0);
  });

  test('a subscription that ends while its opening request is in flight is stopped on the server', async () => {
    let letContextFinish!: () => void;
    const contextGate = new Promise<void>((resolve) => (letContextFinish = resolve));
    let contextAsked!: () => void;
    const contextStarted = new Promise<void>((resolve) => (contextAsked = resolve));
    const server = await serve({
      createContext: async () => {
        contextAsked();
        await contextGate;
        return testContext({ get: () => null }, null);
      },
    });
    const { trpc } = client(server.url, { lazy: { enabled: true, closeMs: 60_000 } });
    const kept = new Collector();
    const gone = new Collector();
    trpc.idle.subscribe(undefined, kept.handlers());
    const sub = trpc.idle.subscribe(undefined, gone.handlers());
    // The stream request (carrying both subscribes) has reached the server; end one now.
    await contextStarted;
    sub.unsubscribe();
    const finishedBefore = server.probe.finished;
    letContextFinish();
    await kept.untilData(1);
    // The server started both (they rode on the request), then stopped the one that ended.
    await expect.poll(() => server.probe.finished - finishedBefore).toBe(1);
    expect(server.probe.started).toBe(2);
    expect(gone.data).toEqual([]);
    expect(server.counts.controls).toBe(1);
  });

  test('a subscription whose input cannot be serialized fails alone, typed; the others carry on', async () => {
    const server = await serve();
    const onError = vi.fn();
    const { trpc } = client(server.url, { lazy: { enabled: true, closeMs: 0 }, onError });
    const good = new Collector<{ id: string; data: { n: number } }>();
    const bad = new Collector();
    trpc.counter.subscribe({ count: 3 }, good.handlers());
    // No transformer: a BigInt has no JSON form.
    trpc.counter.subscribe({ count: 10n as unknown as number }, bad.handlers());
    const error = await bad.untilError();
    expect(error.data?.code).toBe('BAD_REQUEST');
    expect(error.message).toMatch(/could not be serialized/);
    await good.until(() => good.completed, 'completion');
    expect(good.data.map((d) => d.data.n)).toEqual([0, 1, 2]);
    expect(onError).toHaveBeenCalledWith(error);
    // Made later, on the open connection: the same, through a control request.
    const late = new Collector();
    trpc.idle.subscribe(undefined, new Collector().handlers());
    trpc.counter.subscribe({ count: 1n as unknown as number }, late.handlers());
    expect((await late.untilError()).data?.code).toBe('BAD_REQUEST');
  });

  test('createContext runs once for the connection, with its headers', async () => {
    const server = await serve();
    const { trpc } = client(server.url, { headers: () => ({ authorization: 'Bearer dana' }) });
    const before = contextCalls.count;
    const collectors = [1, 2, 3].map(() => new Collector());
    collectors.forEach((c) => trpc.secret.subscribe(undefined, c.handlers()));
    await Promise.all(collectors.map((c) => c.untilData(1)));
    for (const c of collectors) expect(c.data[0]).toEqual({ user: 'dana', params: null });
    expect(contextCalls.count - before).toBe(1);
  });

  test('eager (lazy: false): connected from creation; lazy: only while there are subscriptions', async () => {
    const server = await serve();
    const eager = client(server.url, { lazy: { enabled: false } });
    const eagerStates: string[] = [];
    eager.sse.connectionState.subscribe({ next: (s) => eagerStates.push(s.state) });
    await expect.poll(() => eagerStates.at(-1)).toBe('pending');
    expect(server.core.connections).toBe(1);

    const lazy = client(server.url, { lazy: { enabled: true, closeMs: 10 } });
    const lazyStates: string[] = [];
    lazy.sse.connectionState.subscribe({ next: (s) => lazyStates.push(s.state) });
    expect(server.core.connections).toBe(1);
    const c = new Collector();
    const sub = lazy.trpc.idle.subscribe(undefined, c.handlers());
    await c.untilData(1);
    expect(server.core.connections).toBe(2);
    sub.unsubscribe();
    // Closed on the server too (the client says `close`), not left for the grace window.
    await expect.poll(() => server.core.connections).toBe(1);
    await expect.poll(() => lazyStates.at(-1)).toBe('idle');
    expect(lazyStates).toEqual(['idle', 'connecting', 'pending', 'idle']);
  });
});

describe('when the connection is held', () => {
  test('by default a client opens nothing until its first subscription, and lets go after its last', async () => {
    const server = await serve();
    const { sse, trpc } = client(server.url);
    const states: string[] = [];
    sse.connectionState.subscribe({ next: (s) => states.push(s.state) });
    // A subscription elsewhere opens and finishes a stream: by then this client would have connected too.
    const other = client(server.url);
    const warmup = new Collector();
    const warm = other.trpc.idle.subscribe(undefined, warmup.handlers());
    await warmup.untilData(1);
    warm.unsubscribe();
    await expect.poll(() => server.counts.streams).toBe(1);
    expect(states).toEqual(['idle']);
    expect(sse.connectionState.get().state).toBe('idle');
    const c = new Collector();
    const sub = trpc.idle.subscribe(undefined, c.handlers());
    await c.untilData(1);
    expect(server.counts.streams).toBe(2);
    sub.unsubscribe();
    await expect.poll(() => server.core.connections).toBe(0);
    await expect.poll(() => states.at(-1)).toBe('idle');
  });
});

describe('the last unsubscribe', () => {
  /** A client whose control requests (POSTs) are counted as it issues them. */
  function countingClient(url: string, extra: Record<string, unknown> = {}) {
    const posts: string[] = [];
    const fetchCounting: FetchLike = (input, init) => {
      if (init?.method === 'POST') posts.push(String(init.body));
      return fetch(input, init);
    };
    return { posts, ...client(url, { fetch: fetchCounting, ...extra }) };
  }

  /** `idle` subscribed, once its first value arrived (it is subscribed at once, in this task). */
  async function runningIdle(trpc: ReturnType<typeof client>['trpc']) {
    const c = new Collector();
    const sub = trpc.idle.subscribe(undefined, c.handlers());
    await c.untilData(1);
    return sub;
  }

  test('goes with the connection’s close: one control request, and the procedure stops on the server', async () => {
    const server = await serve();
    const { posts, trpc } = countingClient(server.url);
    const sub = await runningIdle(trpc);
    expect(posts).toEqual([]);
    sub.unsubscribe();
    await expect.poll(() => server.core.connections).toBe(0);
    await expect.poll(() => server.probe.finished).toBe(1);
    expect(posts).toEqual(['{"ops":[{"op":"close"}]}']);
  });

  test('then a subscribe in the same task (an input change): the connection stays, the old procedure stops', async () => {
    const server = await serve();
    const { posts, trpc } = countingClient(server.url);
    const sub = await runningIdle(trpc);
    sub.unsubscribe();
    const next = await runningIdle(trpc);
    await expect.poll(() => server.probe.finished).toBe(1);
    expect(server.probe.started).toBe(2);
    expect(server.core.connections).toBe(1);
    expect(server.counts.streams).toBe(1);
    // The held unsubscribe and the new subscribe: one request.
    expect(posts).toHaveLength(1);
    expect(posts[0]).toMatch(/"op":"unsubscribe".*"op":"subscribe"/);
    next.unsubscribe();
    await expect.poll(() => server.probe.finished).toBe(2);
  });

  test('an app observer of the connection state that throws holds nothing up', async ({ task }) => {
    // Newer tRPC (the trpc-latest fixture) rethrows an observer's throw in a later task itself,
    // as an uncaught exception by design: nothing reaches the client there. Older subjects
    // (11.19 and below) let it reach the caller: the client's own code must contain it.
    const observerThrowsReachUs = task.file.projectName !== 'trpc-latest';
    const server = await serve();
    const reported = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const { posts, sse, trpc } = countingClient(server.url);
      let connected = false;
      sse.connectionState.subscribe({
        next: (state) => {
          // Throws when the connection is let go (not on the current state, told at once).
          if (state.state === 'pending') connected = true;
          if (connected && state.state === 'idle' && observerThrowsReachUs) throw new Error('observer broke');
        },
      });
      const sub = await runningIdle(trpc);
      sub.unsubscribe();
      await expect.poll(() => server.core.connections).toBe(0);
      await expect
        .poll(() => reported.mock.calls.some(([message]) => String(message).includes('connectionState')))
        .toBe(observerThrowsReachUs);
      // Control requests still go: a new connection, then an unsubscribe that stops the procedure.
      const next = await runningIdle(trpc);
      next.unsubscribe();
      await expect.poll(() => server.probe.finished).toBe(2);
      expect(posts).toEqual(['{"ops":[{"op":"close"}]}', '{"ops":[{"op":"close"}]}']);
    } finally {
      reported.mockRestore();
    }
  });

  test('a close that fails on the way is sent again: the server does not keep the connection', async () => {
    const server = await serve({ graceMs: 60_000 });
    let closes = 0;
    const failFirstClose: FetchLike = (url, init) => {
      if (init.method === 'POST' && String(init.body).includes('"close"') && ++closes === 1) {
        return Promise.reject(new TypeError('fetch failed'));
      }
      return fetch(url, init);
    };
    const { trpc } = client(server.url, { fetch: failFirstClose });
    const sub = await runningIdle(trpc);
    sub.unsubscribe();
    await expect.poll(() => server.core.connections, { timeout: 10_000 }).toBe(0);
    expect(server.probe.finished).toBe(1);
    expect(closes).toBe(2);
  });

  test('with closeMs: the unsubscribe goes at once (the server would go on sending until the close)', async () => {
    const server = await serve();
    const { posts, trpc } = countingClient(server.url, { lazy: { enabled: true, closeMs: 60_000 } });
    const sub = await runningIdle(trpc);
    sub.unsubscribe();
    await expect.poll(() => server.probe.finished).toBe(1);
    expect(server.core.connections).toBe(1);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toMatch(/"op":"unsubscribe"/);
  });
});

describe('resume', () => {
  test('a cut within the grace window: every frame once, untracked included, no procedure re-run', async () => {
    const server = await serve({ graceMs: 10_000 });
    const proxy = await startChaosProxy(() => server.port);
    cleanup.push(() => proxy.close());
    const { trpc } = client(`http://127.0.0.1:${proxy.port}/trpc`);
    const c = new Collector();
    trpc.ticks.subscribe(undefined, c.handlers());
    await c.until(() => c.started === 1, 'started');
    let sent = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 20; i++) server.feed.emit('tick', sent++);
      proxy.cutAll();
      for (let i = 0; i < 20; i++) server.feed.emit('tick', sent++);
      await c.untilData(sent);
    }
    expect(c.data).toEqual(Array.from({ length: sent }, (_, i) => i));
    expect(server.probe.started).toBe(1);
    expect(c.states.filter((s) => s.state === 'connecting' && s.error).length).toBeGreaterThanOrEqual(1);
  });

  test('while the stream is down: a new subscription starts and an ended one stops once it resumes', async () => {
    const server = await serve({ graceMs: 10_000 });
    const proxy = await startChaosProxy(() => server.port);
    cleanup.push(() => proxy.close());
    const { trpc, sse } = client(`http://127.0.0.1:${proxy.port}/trpc`);
    const states: string[] = [];
    sse.connectionState.subscribe({ next: (s) => states.push(s.state) });
    const old = new Collector();
    const oldSub = trpc.idle.subscribe(undefined, old.handlers());
    await old.untilData(1);
    proxy.blocked = true;
    proxy.cutAll();
    await expect.poll(() => states.at(-1)).toBe('connecting');
    // Both happen while no stream is open.
    const finished = server.probe.next('finished');
    oldSub.unsubscribe();
    const fresh = new Collector<{ id: string; data: { n: number } }>();
    trpc.counter.subscribe({ count: 2 }, fresh.handlers());
    proxy.blocked = false;
    await fresh.until(() => fresh.completed, 'the new subscription to complete');
    expect(fresh.data.map((d) => d.id)).toEqual(['0', '1']);
    // The unsubscribe reached the resumed connection: the old procedure ran its finally.
    await finished;
    expect(server.core.connections).toBe(1);
  });

  test('past the grace window: a new connection, each subscription resumed from its tracked id', async () => {
    const server = await serve({ graceMs: 0 });
    const proxy = await startChaosProxy(() => server.port);
    cleanup.push(() => proxy.close());
    const { trpc } = client(`http://127.0.0.1:${proxy.port}/trpc`);
    const c = new Collector<{ id: string; data: string }>();
    trpc.journal.subscribe(undefined, c.handlers());
    await c.until(() => c.started === 1, 'started');
    let appended = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 10; i++) server.feed.emit('append', `entry ${appended++}`);
      await c.untilData(appended - 5);
      proxy.cutAll();
      for (let i = 0; i < 10; i++) server.feed.emit('append', `entry ${appended++}`);
      await c.untilData(appended);
    }
    expect(c.data.map((d) => d.data)).toEqual(Array.from({ length: appended }, (_, i) => `entry ${i}`));
    // Every cut started the procedure again, from the last delivered id.
    expect(server.probe.started).toBeGreaterThanOrEqual(2);
    expect(
      server.probe.lastInputs
        .slice(1)
        .every((input) => typeof (input as { lastEventId?: unknown }).lastEventId === 'string'),
    ).toBe(true);
  });

  test('a server restart: the connection is unknown, the client starts a new one and resumes', async () => {
    const fixture = createTestRouter();
    const start = async (port = 0) => {
      const handler = createSSEHandler({ router: fixture.router, basePath: '/trpc' });
      const requests: string[] = [];
      const server = createServer((req, res) => {
        requests.push(req.method!);
        void handler(req, res);
      });
      const bound = await listen(server, port);
      return { handler, server, port: bound, requests };
    };
    let current = await start();
    cleanup.push(async () => {
      current.handler.core.close();
      await closeServer(current.server);
    });
    const { trpc } = client(`http://127.0.0.1:${current.port}/trpc`);
    const c = new Collector<{ id: string; data: string }>();
    trpc.journal.subscribe(undefined, c.handlers());
    await c.until(() => c.started === 1, 'started');
    for (let i = 0; i < 5; i++) fixture.feed.emit('append', `a${i}`);
    await c.untilData(5);
    const port = current.port;
    current.handler.core.close();
    await closeServer(current.server);
    for (let i = 0; i < 5; i++) fixture.feed.emit('append', `b${i}`);
    current = await start(port);
    await c.untilData(10);
    expect(c.data.map((d) => d.data)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4']);
    // The resubscription rode on the resume request itself: one request to the new server.
    expect(current.requests).toEqual(['GET']);
  });
});

describe('drain', () => {
  test('a subscription made during a handover whose new stream fails goes to the old connection', async () => {
    const server = await serve();
    let streamRequests = 0;
    const late = new Collector<{ id: string; data: { n: number } }>();
    const fetchThrough: FetchLike = async (url, init) => {
      // The second stream request is the handover's: subscribe while it is in flight, then fail it.
      if (init.method === 'GET' && ++streamRequests === 2) {
        trpc.counter.subscribe({ count: 2 }, late.handlers());
        throw new TypeError('fetch failed');
      }
      return fetch(url, init);
    };
    const { trpc } = client(server.url, { fetch: fetchThrough });
    const first = new Collector();
    trpc.idle.subscribe(undefined, first.handlers());
    await first.untilData(1);
    server.core.drain({ withinMs: 0 });
    await late.until(() => late.completed, 'completion');
    expect(late.data.map((d) => d.data.n)).toEqual([0, 1]);
    // The server still asked it to move: the handover is tried again (a third stream request),
    // this time successfully, and the old connection is let go.
    await expect.poll(() => streamRequests).toBe(3);
    await expect.poll(() => server.core.connections).toBe(1);
    // `idle` is untracked: on the new connection it starts again (and says 'ready' again).
    await expect.poll(() => first.data).toEqual(['ready', 'ready']);
    expect(first.errors).toEqual([]);
  });

  test('a client closed during a handover closes the old connection on the server too', async () => {
    // A long grace window: a connection the client does not close stays for all of it.
    const server = await serve({ graceMs: 60_000 });
    let streamRequests = 0;
    let handoverAsked!: () => void;
    const handoverStarted = new Promise<void>((resolve) => (handoverAsked = resolve));
    const fetchThrough: FetchLike = (url, init) => {
      // The handover's stream request hangs until the client gives it up.
      if (init.method === 'GET' && ++streamRequests === 2) {
        handoverAsked();
        return new Promise((_, reject) =>
          init.signal?.addEventListener('abort', () => reject(new TypeError('aborted')), { once: true }),
        );
      }
      return fetch(url, init);
    };
    const { sse, trpc } = client(server.url, { fetch: fetchThrough });
    const first = new Collector();
    trpc.idle.subscribe(undefined, first.handlers());
    await first.untilData(1);
    server.core.drain({ withinMs: 0 });
    await handoverStarted;
    expect(server.core.connections).toBe(1);
    sse.close();
    await expect.poll(() => server.core.connections, { timeout: 10_000 }).toBe(0);
  });

  test(
    '200 connected clients all move to new connections, none loses or repeats an event',
    { timeout: 60_000 },
    async () => {
      const server = await serve();
      const clients = Array.from({ length: 200 }, () => client(server.url));
      const collectors = clients.map(({ trpc }) => {
        const c = new Collector<{ id: string; data: string }>();
        trpc.journal.subscribe(undefined, c.handlers());
        return c;
      });
      await Promise.all(collectors.map((c) => c.until(() => c.started === 1, 'started')));
      expect(server.core.connections).toBe(200);
      const total = 60;
      let appended = 0;
      const publish = async (count: number) => {
        for (let i = 0; i < count; i++) {
          server.feed.emit('append', `event ${appended++}`);
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      await publish(20);
      server.core.drain({ withinMs: 300 });
      // Keep publishing while clients hand over.
      await publish(total - 20);
      await Promise.all(collectors.map((c) => c.untilData(total, 30_000)));
      const expected = Array.from({ length: total }, (_, i) => `event ${i}`);
      for (const c of collectors) {
        expect(c.data.map((d) => d.data)).toEqual(expected);
        expect(c.errors).toEqual([]);
      }
      // Everyone moves (within the 300 ms window): every client starts the procedure on its new
      // connection, and the old connections are closed, not left to the grace window.
      await expect.poll(() => server.probe.started, { timeout: 10_000 }).toBe(400);
      await expect.poll(() => server.core.connections, { timeout: 10_000 }).toBe(200);
      expect(server.counts.streams).toBe(400);
      // And still nothing lost or repeated after the last ones moved.
      await publish(5);
      await Promise.all(collectors.map((c) => c.untilData(total + 5, 30_000)));
      for (const c of collectors)
        expect(c.data.map((d) => d.data)).toEqual([...expected, ...[0, 1, 2, 3, 4].map((i) => `event ${total + i}`)]);
    },
  );
});
