/**
 * The multiplexed protocol at the wire (PROTOCOL.md §2), with a hand-written client: the
 * stream, control requests and their authentication, limits, resume within the grace window,
 * and drain. The contract part runs against every adapter.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { SSEMessage } from '../../src/codec/decoder.js';
import { ADAPTERS, type RawStream, type RunningAdapter } from '../helpers/adapters.js';
import { contextCalls, createTestRouter } from '../helpers/router.js';
import { MUX_PATH } from '../../src/protocol.js';

const SSE = { accept: 'text/event-stream' };
const running: RunningAdapter[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) await server.close();
});

interface Opened {
  stream: RawStream;
  connectionId: string;
  secret: string;
  hello: Record<string, unknown>;
}

async function open(
  server: RunningAdapter,
  headers: Record<string, string> = {},
  path: string = MUX_PATH,
): Promise<Opened> {
  const stream = await server.request(path, { headers: { ...SSE, ...headers } });
  expect(stream.status).toBe(200);
  const first = await stream.next();
  expect(first?.event).toBe('connection');
  const hello = JSON.parse(first!.data) as { connectionId: string; secret: string };
  return { stream, connectionId: hello.connectionId, secret: hello.secret, hello };
}

async function control(
  server: RunningAdapter,
  conn: { connectionId: string; secret: string | null },
  ops: unknown[],
  path: string = MUX_PATH,
) {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'trpc-sse-connection': conn.connectionId,
  };
  if (conn.secret !== null) headers['trpc-sse-secret'] = conn.secret;
  const response = await server.request(path, { method: 'POST', headers, body: JSON.stringify({ ops }) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as { error?: { data: { code: string } } }) : null };
}

const payload = (event: SSEMessage) =>
  JSON.parse(event.data) as { s: string; i?: string; d?: unknown; e?: { data: { code: string } } };

describe.each(ADAPTERS)('$name', (adapter) => {
  test('the protocol lives at {endpoint}/trpc-sse, and still at the endpoint itself for clients of 0.1', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router);
    running.push(server);
    for (const path of [MUX_PATH, '']) {
      const conn = await open(server, {}, path);
      const answer = await control(
        server,
        conn,
        [{ op: 'subscribe', id: 'a', path: 'counter', input: { count: 1 } }],
        path,
      );
      expect(answer.status).toBe(204);
      const events: SSEMessage[] = [];
      while (!events.some((e) => e.event === 'return')) events.push((await conn.stream.next())!);
      expect(events.map((e) => [e.event, payload(e).i])).toEqual([
        ['started', undefined],
        ['message', '0'],
        ['return', undefined],
      ]);
      conn.stream.cancel();
    }
  });

  test('one stream carries several subscriptions, each event naming its own', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router);
    running.push(server);
    const conn = await open(server);
    expect(conn.hello).toMatchObject({ protocol: 1, resumed: false, maxSubscriptions: 100 });
    // ≥ 128 random bits, base64url.
    expect(conn.secret).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    const answer = await control(server, conn, [
      { op: 'subscribe', id: 'a', path: 'counter', input: { count: 2 } },
      { op: 'subscribe', id: 'b', path: 'plain', input: 2 },
    ]);
    expect(answer.status).toBe(204);
    const events: SSEMessage[] = [];
    while (events.filter((e) => e.event === 'return').length < 2) events.push((await conn.stream.next())!);
    const of = (s: string) =>
      events.filter((e) => payload(e).s === s).map((e) => [e.event, payload(e).i, payload(e).d]);
    expect(of('a')).toEqual([
      ['started', undefined, undefined],
      ['message', '0', { n: 0 }],
      ['message', '1', { n: 1 }],
      ['return', undefined, undefined],
    ]);
    expect(of('b')).toEqual([
      ['started', undefined, undefined],
      ['message', undefined, 0],
      ['message', undefined, 1],
      ['return', undefined, undefined],
    ]);
    // Frame ids are the connection's sequence: 1, 2, 3, … across subscriptions.
    expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
    conn.stream.cancel();
  });

  test('a new stream may carry its first subscriptions: started at once, listed in the hello, no control request', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router);
    running.push(server);
    const ops = [
      { op: 'subscribe', id: 'a', path: 'counter', input: { count: 2 } },
      { op: 'subscribe', id: 'b', path: 'nope' },
    ];
    const stream = await server.request(`${MUX_PATH}?subscribe=${encodeURIComponent(JSON.stringify(ops))}`, {
      headers: SSE,
    });
    expect(stream.status).toBe(200);
    const hello = JSON.parse((await stream.next())!.data) as { subscribed?: string[] };
    expect(hello.subscribed).toEqual(['a', 'b']);
    const events: SSEMessage[] = [];
    while (!events.some((e) => e.event === 'return') || !events.some((e) => e.event === 'failed'))
      events.push((await stream.next())!);
    const of = (s: string) =>
      events.filter((e) => payload(e).s === s).map((e) => [e.event, payload(e).d ?? payload(e).e?.data.code]);
    expect(of('a')).toEqual([
      ['started', undefined],
      ['message', { n: 0 }],
      ['message', { n: 1 }],
      ['return', undefined],
    ]);
    // A subscription that cannot start fails in-band, as it would from a control request.
    expect(of('b')).toEqual([['failed', 'NOT_FOUND']]);
    stream.cancel();
  });

  test('a malformed or oversized opening "subscribe" parameter refuses the stream with a typed error', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router, { maxControlBodyBytes: 1024 });
    running.push(server);
    const cases: Array<[string, number, string]> = [
      ['{not json', 400, 'PARSE_ERROR'],
      [JSON.stringify({ op: 'subscribe' }), 400, 'BAD_REQUEST'],
      [JSON.stringify([{ op: 'close' }]), 400, 'BAD_REQUEST'],
      [JSON.stringify([{ op: 'subscribe', id: '', path: 'counter' }]), 400, 'BAD_REQUEST'],
      [
        JSON.stringify([{ op: 'subscribe', id: 'a', path: 'counter', input: 'x'.repeat(2000) }]),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
    ];
    for (const [param, status, code] of cases) {
      const response = await server.request(`${MUX_PATH}?subscribe=${encodeURIComponent(param)}`, { headers: SSE });
      expect(response.status, param.slice(0, 40)).toBe(status);
      expect((JSON.parse(await response.text()) as { error: { data: { code: string } } }).error.data.code).toBe(code);
    }
    // Nothing was started by the refused requests, and the server still serves.
    expect(fixture.probe.started).toBe(0);
    const conn = await open(server);
    expect(conn.hello['subscribed']).toBeUndefined();
    conn.stream.cancel();
  });

  test('a control request without the right secret is refused and changes nothing', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router);
    running.push(server);
    const mine = await open(server);
    const other = await open(server);
    const attempts = [
      { connectionId: mine.connectionId, secret: null },
      { connectionId: mine.connectionId, secret: 'wrong' },
      { connectionId: mine.connectionId, secret: mine.secret.slice(0, -1) + (mine.secret.endsWith('A') ? 'B' : 'A') },
      { connectionId: mine.connectionId, secret: other.secret },
    ];
    for (const attempt of attempts) {
      const answer = await control(server, attempt, [{ op: 'subscribe', id: 'x', path: 'idle' }]);
      expect(answer.status).toBe(403);
      expect(answer.body?.error?.data.code).toBe('FORBIDDEN');
    }
    const unknown = await control(server, { connectionId: 'nope', secret: mine.secret }, [
      { op: 'subscribe', id: 'x', path: 'idle' },
    ]);
    expect(unknown.status).toBe(404);
    expect(unknown.body?.error?.data.code).toBe('NOT_FOUND');
    // None of them started anything; a good request does.
    expect(fixture.probe.started).toBe(0);
    expect((await control(server, mine, [{ op: 'subscribe', id: 'x', path: 'idle' }])).status).toBe(204);
    expect((await mine.stream.next())?.event).toBe('started');
    expect(fixture.probe.started).toBe(1);
    mine.stream.cancel();
    other.stream.cancel();
  });

  test('unsubscribe stops the procedure; per-subscription failures arrive in-band', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router);
    running.push(server);
    const conn = await open(server);
    await control(server, conn, [
      { op: 'subscribe', id: '1', path: 'idle' },
      { op: 'subscribe', id: '2', path: 'nope' },
      { op: 'subscribe', id: '3', path: 'counter', input: { count: 'x' } },
      { op: 'subscribe', id: '4', path: 'hello' },
    ]);
    const failures: Record<string, string> = {};
    let started = false;
    while (Object.keys(failures).length < 3 || !started) {
      const event = (await conn.stream.next())!;
      if (event.event === 'failed') failures[payload(event).s] = payload(event).e!.data.code;
      if (event.event === 'started') started = payload(event).s === '1';
    }
    expect(failures).toEqual({ '2': 'NOT_FOUND', '3': 'BAD_REQUEST', '4': 'METHOD_NOT_SUPPORTED' });
    const finished = fixture.probe.next('finished');
    expect((await control(server, conn, [{ op: 'unsubscribe', id: '1' }])).status).toBe(204);
    await finished;
    conn.stream.cancel();
  });
});

describe('node:http', () => {
  const adapter = ADAPTERS.find((a) => a.name === 'node:http')!;

  test('createContext runs once per connection, with the stream’s headers and connection params', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router);
    running.push(server);
    const before = contextCalls.count;
    const params = encodeURIComponent(JSON.stringify({ user: 'carol' }));
    const conn = await open(server, { 'trpc-sse-connection-params': params });
    await control(
      server,
      conn,
      [1, 2, 3].map((n) => ({ op: 'subscribe', id: String(n), path: 'secret' })),
    );
    const values: unknown[] = [];
    while (values.length < 3) {
      const event = (await conn.stream.next())!;
      if (event.event === 'message') values.push(payload(event).d);
    }
    expect(values).toEqual([1, 2, 3].map(() => ({ user: 'carol', params: { user: 'carol' } })));
    expect(contextCalls.count - before).toBe(1);
    conn.stream.cancel();
  });

  test('an auth failure in createContext is an HTTP status with a tRPC error body', async () => {
    const { initTRPC, TRPCError } = await import('@trpc/server');
    const t = initTRPC.create();
    const router = t.router({});
    const { createSSEHandler } = await import('../../src/adapters/node.js');
    const handler = createSSEHandler({
      router,
      basePath: '/trpc',
      createContext: () => {
        throw new TRPCError({ code: 'UNAUTHORIZED', message: 'who are you' });
      },
    });
    const { createServer } = await import('node:http');
    const { listen, closeServer } = await import('../helpers/servers.js');
    const server = createServer((req, res) => void handler(req, res));
    const port = await listen(server);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/trpc`, { headers: SSE });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({
        error: { message: 'who are you', data: { code: 'UNAUTHORIZED' } },
      });
    } finally {
      handler.core.close();
      await closeServer(server);
    }
  });

  test('limits: subscriptions per connection, control body size, malformed bodies', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router, { maxSubscriptionsPerConnection: 2, maxControlBodyBytes: 1000 });
    running.push(server);
    const conn = await open(server);
    expect(conn.hello['maxSubscriptions']).toBe(2);
    await control(
      server,
      conn,
      ['1', '2', '3'].map((id) => ({ op: 'subscribe', id, path: 'idle' })),
    );
    const seen: Record<string, string> = {};
    while (Object.keys(seen).length < 3) {
      const event = (await conn.stream.next())!;
      if (event.event !== 'message')
        seen[payload(event).s] = event.event === 'failed' ? payload(event).e!.data.code : event.event;
    }
    expect(seen).toEqual({ '1': 'started', '2': 'started', '3': 'TOO_MANY_REQUESTS' });
    const big = await control(server, conn, [
      { op: 'subscribe', id: '9', path: 'counter', input: { count: 1, pad: 'x'.repeat(2000) } },
    ]);
    expect(big.status).toBe(413);
    expect(big.body?.error?.data.code).toBe('PAYLOAD_TOO_LARGE');
    // Malformed beyond a subscription of its own (no usable id, no such op): the whole request is refused.
    for (const ops of [[{ op: 'launch' }], [{ op: 'subscribe', id: '', path: 'idle' }]]) {
      const bad = await control(server, conn, ops);
      expect(bad.status).toBe(400);
      expect(bad.body?.error?.data.code).toBe('BAD_REQUEST');
    }
    const garbage = await server.request(MUX_PATH, {
      method: 'POST',
      headers: { 'trpc-sse-connection': conn.connectionId, 'trpc-sse-secret': conn.secret },
      body: '{nope',
    });
    expect(garbage.status).toBe(400);
    // The connection is unharmed: a freed slot takes a new subscription on the same stream.
    expect(
      (
        await control(server, conn, [
          { op: 'unsubscribe', id: '1' },
          { op: 'subscribe', id: 'p', path: 'plain', input: 1 },
        ])
      ).status,
    ).toBe(204);
    const ofP: unknown[] = [];
    while (ofP.length < 3) {
      const event = (await conn.stream.next())!;
      if (payload(event).s === 'p') ofP.push(event.event === 'message' ? payload(event).d : event.event);
    }
    expect(ofP).toEqual(['started', 0, 'return']);
    conn.stream.cancel();
  });

  test('a subscribe op that is bad only in itself fails its own subscription in-band, in a control batch and in the opening parameter', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router, { maxLastEventIdLength: 16 });
    running.push(server);
    const bad = [
      { op: 'subscribe', id: 'tab', path: 'idle', lastEventId: 'a\tb' },
      { op: 'subscribe', id: 'newline', path: 'idle', lastEventId: 'a\nb' },
      { op: 'subscribe', id: 'long', path: 'idle', lastEventId: 'x'.repeat(17) },
      { op: 'subscribe', id: 'notString', path: 'idle', lastEventId: 41 },
      { op: 'subscribe', id: 'noPath', path: '' },
    ];
    const good = { op: 'subscribe', id: 'ok', path: 'counter', input: { count: 2 }, lastEventId: '日本-é' };
    const outcomes = async (stream: RawStream): Promise<Record<string, string>> => {
      const seen: Record<string, string> = {};
      while (Object.keys(seen).length < bad.length + 1) {
        const event = (await stream.next())!;
        if (event.event === 'started' || event.event === 'failed') {
          seen[payload(event).s] = event.event === 'failed' ? payload(event).e!.data.code : 'started';
        }
      }
      return seen;
    };
    const expected = {
      tab: 'BAD_REQUEST',
      newline: 'BAD_REQUEST',
      long: 'BAD_REQUEST',
      notString: 'BAD_REQUEST',
      noPath: 'BAD_REQUEST',
      ok: 'started',
    };

    // In a control batch: applied (204), the good op runs, each bad one fails alone.
    const conn = await open(server);
    const answer = await control(server, conn, [...bad, good]);
    expect(answer.status).toBe(204);
    expect(await outcomes(conn.stream)).toEqual(expected);
    conn.stream.cancel();

    // In the `subscribe` parameter of a new stream: the stream opens, and the same happens on it.
    const opened = await open(
      server,
      {},
      `${MUX_PATH}?subscribe=${encodeURIComponent(JSON.stringify([...bad, good]))}`,
    );
    expect(opened.hello['subscribed']).toEqual([...bad, good].map((op) => op.id));
    expect(await outcomes(opened.stream)).toEqual(expected);
    opened.stream.cancel();
  });

  test('a tracked id the server could not accept back fails its own subscription where it is made', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router);
    running.push(server);
    const conn = await open(server);
    await control(server, conn, [
      { op: 'subscribe', id: 'live', path: 'live' },
      { op: 'subscribe', id: 'ticks', path: 'ticks' },
    ]);
    const started = new Set<string>();
    while (started.size < 2) {
      const event = (await conn.stream.next())!;
      if (event.event === 'started') started.add(payload(event).s);
    }
    fixture.feed.emit('item', { id: 'a\tb', text: 'unresumable' });
    let failed: SSEMessage | undefined;
    while (!failed) {
      const event = (await conn.stream.next())!;
      // Nothing of the item is written before the failure.
      expect(event.event).not.toBe('message');
      if (event.event === 'failed') failed = event;
    }
    const error = payload(failed).e as unknown as { message: string; data: { code: string } };
    expect(payload(failed).s).toBe('live');
    expect(error.data.code).toBe('INTERNAL_SERVER_ERROR');
    expect(error.message).toMatch(/^Invalid tracked id: it contains the control character U\+0009/);
    // The other subscription on the connection carries on.
    fixture.feed.emit('tick', 7);
    let tick: SSEMessage | undefined;
    while (!tick) {
      const event = (await conn.stream.next())!;
      if (event.event === 'message') tick = event;
    }
    expect(payload(tick)).toEqual({ s: 'ticks', d: 7 });
    conn.stream.cancel();
  });

  test('too many control requests in flight for one connection: 429', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router, { maxPendingControlRequests: 2 });
    running.push(server);
    const conn = await open(server);
    const { request } = await import('node:http');
    // Two requests whose bodies never finish arriving.
    const stuck = [1, 2].map(() => {
      const req = request({
        host: '127.0.0.1',
        port: server.port!,
        path: `/trpc/${MUX_PATH}`,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'trpc-sse-connection': conn.connectionId,
          'trpc-sse-secret': conn.secret,
          'content-length': '100',
        },
      });
      req.on('error', () => undefined);
      req.write('{"ops":[');
      return req;
    });
    let answer = await control(server, conn, []);
    for (let i = 0; i < 50 && answer.status !== 429; i++) answer = await control(server, conn, []);
    expect(answer.status).toBe(429);
    expect(answer.body?.error?.data.code).toBe('TOO_MANY_REQUESTS');
    for (const req of stuck) req.destroy();
    conn.stream.cancel();
  });

  test('a client back within the grace window gets every frame it missed, untracked too, exactly once', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router, { graceMs: 5_000 });
    running.push(server);
    const conn = await open(server);
    await control(server, conn, [
      { op: 'subscribe', id: 't', path: 'ticks' },
      { op: 'subscribe', id: 'l', path: 'live' },
    ]);
    let lastSeq = 0;
    const received: unknown[] = [];
    const take = async (stream: RawStream, count: number) => {
      while (received.length < count) {
        const event = (await stream.next())!;
        if (event.id) lastSeq = Number(event.id);
        if (event.event === 'message') received.push(payload(event).d);
      }
    };
    await conn.stream.next(); // started t
    await conn.stream.next(); // started l
    fixture.feed.emit('tick', 'tick-1');
    fixture.feed.emit('item', { id: 'i1', text: 'one' });
    await take(conn.stream, 2);
    conn.stream.cancel();
    await expect.poll(() => server.core.openStreams, { timeout: 10_000 }).toBe(0);
    // While the client is away: an untracked and a tracked value.
    fixture.feed.emit('tick', 'tick-2');
    fixture.feed.emit('item', { id: 'i2', text: 'two' });
    const started = fixture.probe.started;
    const back = await server.request(MUX_PATH, {
      headers: {
        ...SSE,
        'last-event-id': String(lastSeq),
        'trpc-sse-connection': conn.connectionId,
        'trpc-sse-secret': conn.secret,
      },
    });
    const hello = JSON.parse((await back.next())!.data) as { resumed: boolean; connectionId: string };
    expect(hello).toMatchObject({ resumed: true, connectionId: conn.connectionId });
    await take(back, 4);
    fixture.feed.emit('tick', 'tick-3');
    await take(back, 5);
    expect(received).toEqual(['tick-1', { id: 'i1', text: 'one' }, 'tick-2', { id: 'i2', text: 'two' }, 'tick-3']);
    // Nothing ran again.
    expect(fixture.probe.started).toBe(started);
    back.cancel();
  });

  test('past the grace window the connection is gone: a new one, and the old procedures stopped', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router, { graceMs: 30 });
    running.push(server);
    const conn = await open(server);
    await control(server, conn, [{ op: 'subscribe', id: 'l', path: 'live' }]);
    await conn.stream.next();
    const finished = fixture.probe.next('finished');
    conn.stream.cancel();
    await finished;
    await expect.poll(() => server.core.connections, { timeout: 10_000 }).toBe(0);
    const back = await server.request(MUX_PATH, {
      headers: {
        ...SSE,
        'last-event-id': '1',
        'trpc-sse-connection': conn.connectionId,
        'trpc-sse-secret': conn.secret,
      },
    });
    const hello = JSON.parse((await back.next())!.data) as { resumed: boolean; connectionId: string };
    expect(hello.resumed).toBe(false);
    expect(hello.connectionId).not.toBe(conn.connectionId);
    back.cancel();
  });

  test('resume with a wrong secret does not take over the connection', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router, { graceMs: 5_000 });
    running.push(server);
    const conn = await open(server);
    const thief = await server.request(MUX_PATH, {
      headers: { ...SSE, 'last-event-id': '0', 'trpc-sse-connection': conn.connectionId, 'trpc-sse-secret': 'guess' },
    });
    const hello = JSON.parse((await thief.next())!.data) as { resumed: boolean; connectionId: string };
    expect(hello.resumed).toBe(false);
    expect(hello.connectionId).not.toBe(conn.connectionId);
    // The owner's stream is still attached and working.
    expect((await control(server, conn, [{ op: 'subscribe', id: 'p', path: 'plain', input: 1 }])).status).toBe(204);
    expect((await conn.stream.next())?.event).toBe('started');
    thief.cancel();
    conn.stream.cancel();
  });

  test('drain asks every connection to reconnect within the window', async () => {
    const fixture = createTestRouter();
    const server = await adapter.start(fixture.router);
    running.push(server);
    const conns = await Promise.all([open(server), open(server), open(server)]);
    server.core.drain({ withinMs: 1000 });
    for (const conn of conns) {
      const event = (await conn.stream.next())!;
      expect(event.event).toBe('reconnect');
      const { afterMs } = JSON.parse(event.data) as { afterMs: number };
      expect(afterMs).toBeGreaterThanOrEqual(0);
      expect(afterMs).toBeLessThan(1000);
      conn.stream.cancel();
    }
  });
});

test('a router with a procedure at the protocol’s path is refused when the server is made', async () => {
  const { initTRPC } = await import('@trpc/server');
  const t = initTRPC.create();
  const router = t.router({ 'trpc-sse': t.procedure.query(() => 'shadowed') });
  const { createSSECore } = await import('../../src/server/core.js');
  expect(() => createSSECore({ router })).toThrow(/procedure at "trpc-sse"/);
});
