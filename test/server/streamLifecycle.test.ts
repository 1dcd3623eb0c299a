/** Heartbeats, stream lifetime, and the bounds that keep a slow reader from costing memory. */
import { initTRPC, tracked } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { connect, type Socket } from 'node:net';
import { afterEach, expect, test, vi } from 'vitest';
import { createMemoryEventLog } from '../../src/log/memoryEventLog.js';
import { createSSECore } from '../../src/server/core.js';
import { Heartbeat, type HeartbeatTarget } from '../../src/server/heartbeat.js';
import { ADAPTERS, type RunningAdapter } from '../helpers/adapters.js';
import { startNodeServer } from '../helpers/servers.js';

const nodeAdapter = ADAPTERS.find((a) => a.name === 'node:http')!;
const SSE = { accept: 'text/event-stream' };
const running: RunningAdapter[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) await server.close();
});

function boundsRouter() {
  const t = initTRPC.create();
  const stats = { yielded: 0, finished: 0 };
  const router = t.router({
    silent: t.procedure.subscription(async function* ({ signal }) {
      yield 'hi';
      await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
    }),
    /** Yields 1 KiB values as fast as it is allowed to. */
    firehose: t.procedure.subscription(async function* () {
      try {
        const payload = 'x'.repeat(1024);
        for (let i = 0; i < 1_000_000; i++) {
          stats.yielded++;
          yield tracked(String(i), payload);
        }
      } finally {
        stats.finished++;
      }
    }),
    /** An observable pushing 20 MiB at once: it cannot be paused. */
    flood: t.procedure.subscription(() =>
      observable<string>((emit) => {
        const payload = 'y'.repeat(1024);
        for (let i = 0; i < 20_000; i++) emit.next(payload);
        return () => {
          stats.finished++;
        };
      }),
    ),
  });
  return { router, stats };
}

test('an idle stream gets pings', async () => {
  const { router } = boundsRouter();
  const server = await nodeAdapter.start(router, { heartbeatMs: 40, reconnectAfterInactivityMs: 200 });
  running.push(server);
  const stream = await server.request('silent', { headers: SSE });
  const connected = await stream.next();
  expect(JSON.parse(connected!.data)).toEqual({ reconnectAfterInactivityMs: 200 });
  expect((await stream.next())?.data).toBe('"hi"');
  // Three pings in a row, with nothing else to send.
  for (let i = 0; i < 3; i++) expect(await stream.next()).toMatchObject({ event: 'ping', data: '' });
  stream.cancel();
});

test('the heartbeat pings only a stream that wrote nothing since its last tick', () => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  const heartbeat = new Heartbeat(100);
  const target = (): HeartbeatTarget & { pings: number } => ({
    wroteSinceTick: true,
    pings: 0,
    ping() {
      this.pings++;
    },
  });
  const idle = target();
  const busy = target();
  try {
    heartbeat.add(idle);
    heartbeat.add(busy);
    // Ten ticks (every half interval), with a write by the busy stream before each.
    for (let tick = 0; tick < 10; tick++) {
      busy.wroteSinceTick = true;
      vi.advanceTimersByTime(50);
    }
    expect(busy.pings).toBe(0);
    // Its first tick finds the write of its opening; every later one finds silence.
    expect(idle.pings).toBe(9);
  } finally {
    heartbeat.stop();
    vi.useRealTimers();
  }
});

test('the heartbeat must come before the client would give up', () => {
  const { router } = boundsRouter();
  expect(() => createSSECore({ router, heartbeatMs: 5000, reconnectAfterInactivityMs: 4000 })).toThrow(RangeError);
  expect(() => createSSECore({ router, heartbeatMs: 0, reconnectAfterInactivityMs: 4000 })).toThrow(RangeError);
  expect(() => createSSECore({ router, heartbeatMs: 0, reconnectAfterInactivityMs: 0 })).not.toThrow();
  // The router's own tRPC settings are honoured when ours are not given.
  const t = initTRPC.create({
    sse: { ping: { enabled: true, intervalMs: 2000 }, client: { reconnectAfterInactivityMs: 7000 } },
  });
  const core = createSSECore({ router: t.router({}) });
  expect(core.options.heartbeatMs).toBe(2000);
  expect(core.options.reconnectAfterInactivityMs).toBe(7000);
});

test("the router's client timeout with pings off gets a heartbeat that fits, not a startup error", async () => {
  // tRPC's own settings: no pings, and clients told to drop a stream silent for 1 s.
  const t = initTRPC.create({ sse: { client: { reconnectAfterInactivityMs: 1000 } } });
  const router = t.router({
    silent: t.procedure.subscription(async function* ({ signal }) {
      yield 'hi';
      await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
    }),
  });
  const core = createSSECore({ router });
  expect(core.options.reconnectAfterInactivityMs).toBe(1000);
  expect(core.options.heartbeatMs).toBeGreaterThan(0);
  expect(core.options.heartbeatMs).toBeLessThan(1000);
  // The same when the router's pings are on but slower than its client timeout.
  const slow = initTRPC.create({
    sse: { ping: { enabled: true, intervalMs: 5000 }, client: { reconnectAfterInactivityMs: 900 } },
  });
  expect(createSSECore({ router: slow.router({}) }).options.heartbeatMs).toBeLessThan(900);
  // …and when only our timeout is given: the default heartbeat (10 s) would not fit it.
  expect(createSSECore({ router, reconnectAfterInactivityMs: 600 }).options.heartbeatMs).toBeLessThan(600);
  // An idle stream served with these settings is pinged, as its client needs.
  const server = await nodeAdapter.start(router, { reconnectAfterInactivityMs: 150 });
  running.push(server);
  const stream = await server.request('silent', { headers: SSE });
  expect(JSON.parse((await stream.next())!.data)).toEqual({ reconnectAfterInactivityMs: 150 });
  expect((await stream.next())?.data).toBe('"hi"');
  expect(await stream.next()).toMatchObject({ event: 'ping' });
  stream.cancel();
});

test('our own heartbeatMs contradicting a client timeout is refused with a message that says how to fix it', () => {
  const { router } = boundsRouter();
  expect(() => createSSECore({ router, heartbeatMs: 0, reconnectAfterInactivityMs: 1000 })).toThrow(
    /heartbeatMs \(0\) must be > 0 and below reconnectAfterInactivityMs \(1000\)/,
  );
  const t = initTRPC.create({ sse: { client: { reconnectAfterInactivityMs: 1000 } } });
  expect(() => createSSECore({ router: t.router({}), heartbeatMs: 2000 })).toThrow(
    /below the router's sse\.client\.reconnectAfterInactivityMs \(1000\)/,
  );
  // Saying no timeout to clients makes any heartbeat fit.
  expect(
    createSSECore({ router: t.router({}), heartbeatMs: 0, reconnectAfterInactivityMs: 0 }).options.heartbeatMs,
  ).toBe(0);
});

test('maxDurationMs ends the stream without return, so the client reconnects', async () => {
  // The duration starts once the stream is open, and the first value is written in the
  // microtasks that follow: no timer, however short or late, ends the stream before it.
  const { router } = boundsRouter();
  const server = await nodeAdapter.start(router, { maxDurationMs: 50 });
  running.push(server);
  const stream = await server.request('silent', { headers: SSE });
  const events = [];
  for (let e = await stream.next(); e; e = await stream.next()) events.push(e.event);
  expect(events).toEqual(['connected', 'message']);
});

test('a log subscription on a signal of its own is also ended without return (it is resumed, not completed)', async () => {
  const log = createMemoryEventLog();
  const t = initTRPC.create();
  const router = t.router({
    // A signal derived from the procedure's: the log watches it, and it aborts as the stream closes.
    feed: t.procedure.subscription(({ signal }) => log.subscribe('feed', { signal: AbortSignal.any([signal!]) })),
  });
  const server = await nodeAdapter.start(router, { maxDurationMs: 50 });
  running.push(server);
  const stream = await server.request('feed', { headers: SSE });
  const events = [];
  for (let e = await stream.next(); e; e = await stream.next()) events.push(e.event);
  expect(events).toEqual(['connected', 'checkpoint']);
  await log.close();
});

test('a generator is not run ahead of a reader that does not read', async () => {
  const { router, stats } = boundsRouter();
  const server = await nodeAdapter.start(router);
  running.push(server);
  // A raw socket that sends the request and never reads a byte of the answer.
  const socket = connect(server.port!, '127.0.0.1');
  socket.pause();
  socket.write('GET /trpc/firehose HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
  await expect.poll(() => stats.yielded, { timeout: 10_000 }).toBeGreaterThan(100);
  // Wait until the producer stops moving (bounded: 50 rounds).
  let last = -1;
  for (let rounds = 0; rounds < 50 && stats.yielded !== last; rounds++) {
    last = stats.yielded;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // The producer is parked by backpressure: what is buffered is bounded by the socket and
  // HTTP buffers (a few MiB at most), nowhere near the 1 GiB it would otherwise produce.
  expect(stats.yielded).toBe(last);
  expect(stats.yielded * 1024).toBeLessThan(32 * 1024 * 1024);
  const finished = stats.finished;
  socket.destroy();
  await expect.poll(() => stats.finished, { timeout: 10_000 }).toBe(finished + 1);
});

test('an observable that outruns its reader is cut off at maxBufferedBytes, resumably', async () => {
  const { router, stats } = boundsRouter();
  const server = await nodeAdapter.start(router, { maxBufferedBytes: 256 * 1024 });
  running.push(server);
  const stream = await server.request('flood', { headers: SSE });
  const events: string[] = [];
  // Cut off rather than ended (what was still queued is dropped): the body ends in a network
  // error, which clients treat as any broken stream, by resuming from their last id.
  await expect(
    (async () => {
      for (let e = await stream.next(); e; e = await stream.next()) events.push(e.event);
    })(),
  ).rejects.toThrow();
  // No `return` (the client will reconnect), long before all 20,000 were queued.
  expect(events).not.toContain('return');
  expect(events.length).toBeLessThan(20_000);
  expect(stats.finished).toBe(1);
  expect(server.core.openStreams).toBe(0);
});

test('a stream cut off for a reader that does not read is destroyed, not ended behind its queue', async () => {
  const { router, stats } = boundsRouter();
  const node = await startNodeServer(router, { maxBufferedBytes: 64 * 1024, maxStreams: 10 });
  // A response ended gracefully leaves its socket open (kept alive) well past this test: only
  // a destroyed one is gone by the time the poll below gives up.
  node.server.keepAliveTimeout = 600_000;
  const connections = (): Promise<number> =>
    new Promise((resolve, reject) =>
      node.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );
  const clients: Socket[] = [];
  try {
    // Raw clients that send the request and never read a byte of the answer.
    for (let i = 0; i < 5; i++) {
      const socket = connect(node.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.pause();
      socket.write('GET /trpc/flood HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
      clients.push(socket);
    }
    // Each flood outran its reader and was stopped…
    await expect.poll(() => stats.finished, { timeout: 10_000 }).toBe(5);
    expect(node.core.openStreams).toBe(0);
    // …and its socket went with it: nothing queued for a peer that may never read is kept.
    await expect.poll(connections, { timeout: 10_000 }).toBe(0);
    // The clients, once they read, find their stream gone (and resume, in real life).
    await Promise.all(
      clients.map((socket) => {
        const closed = new Promise((resolve) => socket.once('close', resolve));
        socket.resume();
        return closed;
      }),
    );
    // A client that reads is served as before.
    const res = await fetch(`${node.url}/silent`, { headers: SSE });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('"hi"')) text += new TextDecoder().decode((await reader.read()).value);
    expect(node.core.openStreams).toBe(1);
    await reader.cancel();
  } finally {
    for (const socket of clients) socket.destroy();
    await node.close();
  }
});

test('closeAllStreams ends every stream without return and stops the procedures', async () => {
  const { router } = boundsRouter();
  const server = await nodeAdapter.start(router);
  running.push(server);
  const streams = await Promise.all(Array.from({ length: 5 }, () => server.request('silent', { headers: SSE })));
  for (const stream of streams) await stream.next();
  expect(server.core.openStreams).toBe(5);
  server.core.closeAllStreams();
  for (const stream of streams) {
    const rest = [];
    for (let e = await stream.next(); e; e = await stream.next()) rest.push(e.event);
    expect(rest).not.toContain('return');
  }
  expect(server.core.openStreams).toBe(0);
});

test('past maxStreams a new stream gets a retryable SERVICE_UNAVAILABLE; the open ones carry on', async () => {
  const { router } = boundsRouter();
  const server = await nodeAdapter.start(router, { maxStreams: 2 });
  running.push(server);
  const open = await Promise.all([
    server.request('silent', { headers: SSE }),
    server.request('silent', { headers: SSE }),
  ]);
  for (const stream of open) expect((await stream.next())?.event).toBe('connected');
  const refused = await server.request('silent', { headers: SSE });
  const events = [];
  for (let e = await refused.next(); e; e = await refused.next()) events.push(e);
  expect(events.map((e) => e.event)).toEqual(['connected', 'serialized-error']);
  expect((JSON.parse(events[1]!.data) as { data: { code: string } }).data.code).toBe('SERVICE_UNAVAILABLE');
  expect(server.core.openStreams).toBe(2);
  // A slot frees up when a client leaves.
  open[0].cancel();
  await expect.poll(() => server.core.openStreams, { timeout: 10_000 }).toBe(1);
  const admitted = await server.request('silent', { headers: SSE });
  expect((await admitted.next())?.event).toBe('connected');
  expect((await admitted.next())?.data).toBe('"hi"');
});
