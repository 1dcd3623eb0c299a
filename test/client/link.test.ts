/** sseLink against our server and against scripted responses: retry, resume, errors, data. */
import { createTRPCClient, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createSSEClient, sseLink } from '../../src/client/index.js';
import { Collector } from '../helpers/collector.js';
import { jsonResponse, scriptedFetch, sseResponse } from '../helpers/fakeFetch.js';
import { createTestRouter, type TestRouter } from '../helpers/router.js';
import { startNodeServer } from '../helpers/servers.js';

const FAST = { minDelayMs: 5, maxDelayMs: 20 };
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function serve(opts: { transformer?: boolean } = {}) {
  const fixture = createTestRouter(opts);
  const server = await startNodeServer(fixture.router);
  cleanup.push(() => server.close());
  return { ...fixture, server };
}

function trpcClient(url: string, extra: Record<string, unknown> = {}) {
  return createTRPCClient<TestRouter>({ links: [sseLink({ url, retry: FAST, ...extra })] });
}

describe('resume keeps odd input schemas working', () => {
  test.each([
    ['strict', { room: 'r1' }, 'r1'],
    ['voidInput', undefined, 'v'],
    ['primitive', 'p', 'p'],
  ] as const)('%s: reconnecting with a Last-Event-ID is not a BAD_REQUEST', async (path, input, value) => {
    const { server, probe } = await serve();
    // The procedure sees the id only where its schema allows it; here none does.
    const res = await fetch(
      `${server.url}/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`,
      {
        headers: { accept: 'text/event-stream', 'last-event-id': '1' },
      },
    );
    const body = await res.text();
    expect(body).not.toContain('serialized-error');
    expect(body).toContain(`data: ${JSON.stringify(value)}`);
    expect(probe.lastInputs.at(-1)).toEqual(input);
  });

  test('a schema that accepts lastEventId gets it merged into its input', async () => {
    const { server, probe } = await serve();
    const started = probe.next('started');
    const res = await fetch(`${server.url}/live`, { headers: { accept: 'text/event-stream', 'last-event-id': 'x9' } });
    const reader = res.body!.getReader();
    await started;
    expect(probe.lastInputs.at(-1)).toEqual({ lastEventId: 'x9' });
    await reader.cancel();
  });
});

const MODES = ['distinct', 'multiplexed'] as const;

describe.each(MODES)('data (%s)', (mode) => {
  test('tracked values arrive as { id, data } with result.id, untracked as the value', async () => {
    const { server } = await serve();
    const client = trpcClient(server.url, { mode });
    const tracked = new Collector();
    client.counter.subscribe({ count: 2 }, tracked.handlers());
    await tracked.until(() => tracked.completed, 'completion');
    expect(tracked.data).toEqual([
      { id: '0', data: { n: 0 } },
      { id: '1', data: { n: 1 } },
    ]);
    const plain = new Collector();
    client.plain.subscribe(3, plain.handlers());
    await plain.until(() => plain.completed, 'completion');
    expect(plain.data).toEqual([0, 1, 2]);
    expect(plain.stopped).toBe(1);
  });

  test.each([false, true])('Uint8Array round-trips as bytes (transformer: %s)', async (transformer) => {
    const { server } = await serve({ transformer });
    const client = createTRPCClient<TestRouter>({
      links: [
        sseLink({ url: server.url, retry: FAST, mode, ...(transformer ? { transformer: superjson } : {}) } as never),
      ],
    });
    const c = new Collector<{ bytes: Uint8Array; nested: Array<{ buf: Uint8Array }>; when: unknown }>();
    client.binary.subscribe(100_000, c.handlers());
    await c.untilData(1);
    const value = c.data[0]!;
    expect(value.bytes).toBeInstanceOf(Uint8Array);
    expect(value.bytes.length).toBe(100_000);
    expect(value.bytes.every((b, i) => b === (i * 7) % 256)).toBe(true);
    expect(Array.from(value.nested[0]!.buf)).toEqual([1, 2, 3]);
    // superjson revives the Date; plain JSON carries its ISO string.
    expect(value.when).toEqual(transformer ? new Date(0) : new Date(0).toISOString());
  });
});

describe.each(MODES)('errors (%s)', (mode) => {
  test('a non-retryable code fails the subscription with a TRPCClientError carrying it', async () => {
    const { server } = await serve();
    const c = new Collector();
    trpcClient(server.url, { mode }).secret.subscribe(undefined, c.handlers());
    const error = await c.untilError();
    expect(error).toBeInstanceOf(TRPCClientError);
    expect(error.data?.code).toBe('UNAUTHORIZED');
    expect(error.message).toBe('Sign in first');
  });

  test('a procedure throwing INTERNAL_SERVER_ERROR reaches onError once, as with wsLink, and is not re-run', async () => {
    const { server } = await serve();
    const c = new Collector<number>();
    const errors: string[] = [];
    createTRPCClient<TestRouter>({
      links: [sseLink({ url: server.url, retry: FAST, mode, onError: (e) => errors.push((e as Error).message) })],
    }).failing.subscribe({ after: 2, code: 'INTERNAL_SERVER_ERROR' }, c.handlers());
    const error = await c.untilError();
    expect(error.data?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(c.data).toEqual([0, 1]);
    expect(c.errors).toHaveLength(1);
    expect(errors).toEqual(['failed with INTERNAL_SERVER_ERROR']);
  });

  test('unknown path and a query called as a subscription are typed, not "Unknown error"', async () => {
    const { server } = await serve();
    const client = trpcClient(server.url, { mode }) as unknown as Record<
      string,
      { subscribe: (i: unknown, h: unknown) => unknown }
    >;
    for (const [path, code] of [
      ['nope', 'NOT_FOUND'],
      ['hello', 'METHOD_NOT_SUPPORTED'],
    ] as const) {
      const c = new Collector();
      client[path]!.subscribe(undefined, c.handlers());
      expect((await c.untilError()).data?.code).toBe(code);
    }
  });
});

describe('errors (scripted responses)', () => {
  test('HTTP errors without a tRPC body map to codes; a JSON error body is read', async () => {
    const { fetch } = scriptedFetch(() => jsonResponse(401, { nope: true }));
    const c = new Collector();
    createTRPCClient<TestRouter>({
      links: [sseLink({ url: 'http://x/trpc', fetch, retry: FAST, mode: 'distinct' })],
    }).idle.subscribe(undefined, c.handlers());
    expect((await c.untilError()).data?.code).toBe('UNAUTHORIZED');

    const body = { error: { message: 'no entry', code: -32003, data: { code: 'FORBIDDEN', httpStatus: 403 } } };
    const second = scriptedFetch(() => jsonResponse(403, body));
    const d = new Collector();
    createTRPCClient<TestRouter>({
      links: [sseLink({ url: 'http://x/trpc', fetch: second.fetch, retry: FAST, mode: 'distinct' })],
    }).idle.subscribe(undefined, d.handlers());
    const error = await d.untilError();
    expect(error.data?.code).toBe('FORBIDDEN');
    expect(error.message).toBe('no entry');
  });

  test('a retryable failure is retried; the policy decides how often', async () => {
    const attempts: number[] = [];
    const { fetch, calls } = scriptedFetch(() => jsonResponse(503, {}));
    const c = new Collector();
    createTRPCClient<TestRouter>({
      links: [
        sseLink({
          url: 'http://x/trpc',
          fetch,
          mode: 'distinct',
          retry: {
            ...FAST,
            shouldRetry: ({ attempt, error }) => {
              attempts.push(attempt);
              return (error.data as { code?: string } | undefined)?.code === 'SERVICE_UNAVAILABLE' && attempt < 4;
            },
          },
        }),
      ],
    }).idle.subscribe(undefined, c.handlers());
    const error = await c.untilError();
    expect(error.data?.code).toBe('SERVICE_UNAVAILABLE');
    expect(calls).toHaveLength(4);
    expect(attempts).toEqual([1, 2, 3, 4]);
    // Each failure was surfaced as a connecting state carrying the error.
    expect(
      c.states.filter((s) => s.state === 'connecting' && s.error?.data?.code === 'SERVICE_UNAVAILABLE'),
    ).toHaveLength(3);
  });
});

describe('the response Content-Type', () => {
  const body = ['event: connected\ndata: {}\n\n', 'data: "one"\n\n', 'event: return\ndata:\n\n'];
  const withType = (type: string) => ({ ...sseResponse(body), headers: new Headers({ 'content-type': type }) });

  // RFC 9110 §8.3.1: type and subtype are case-insensitive; parameters follow a `;`.
  test.each([
    'Text/Event-Stream',
    'TEXT/EVENT-STREAM; charset=utf-8',
    'text/event-stream;charset=UTF-8',
    ' text/event-stream ',
  ])('%j is an event stream', async (type) => {
    const { fetch } = scriptedFetch(() => withType(type));
    const c = new Collector<string>();
    createTRPCClient<TestRouter>({
      links: [sseLink({ url: 'http://x/trpc', fetch, retry: FAST, mode: 'distinct' })],
    }).idle.subscribe(undefined, c.handlers());
    await c.until(() => c.completed, 'completion');
    expect(c.data).toEqual(['one']);
    expect(c.errors).toEqual([]);
  });

  test.each(['text/event-streamx', 'text/event-stream-v2', 'text/plain', 'event-stream'])(
    '%j is not: UNSUPPORTED_MEDIA_TYPE',
    async (type) => {
      const { fetch } = scriptedFetch(() => withType(type));
      const c = new Collector<string>();
      createTRPCClient<TestRouter>({
        links: [
          sseLink({ url: 'http://x/trpc', fetch, retry: { ...FAST, shouldRetry: () => false }, mode: 'distinct' }),
        ],
      }).idle.subscribe(undefined, c.handlers());
      const error = await c.untilError();
      expect(error.data?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(error.message).toBe(`Expected text/event-stream, got ${type}`);
      expect(c.data).toEqual([]);
    },
  );
});

describe('reconnect', () => {
  test('url, headers and connectionParams are evaluated again on every attempt', async () => {
    let n = 0;
    const { fetch, calls } = scriptedFetch((_call, signal) =>
      calls.length < 3
        ? sseResponse(['event: connected\ndata: {}\n\n', `id: ${calls.length}\ndata: 1\n\n`])
        : sseResponse(['event: connected\ndata: {}\n\n'], { hold: true, signal }),
    );
    const c = new Collector();
    const sub = createTRPCClient<TestRouter>({
      links: [
        sseLink({
          url: async () => `http://host${++n}/trpc`,
          headers: async () => ({ authorization: `Bearer t${n}` }),
          connectionParams: () => ({ token: `p${n}` }),
          fetch,
          retry: FAST,
          mode: 'distinct',
        }),
      ],
    }).idle.subscribe(undefined, c.handlers());
    await c.until(() => calls.length >= 3, '3 attempts');
    sub.unsubscribe();
    expect(calls.map((call) => new URL(call.url).host)).toEqual(['host1', 'host2', 'host3']);
    expect(calls.map((call) => call.headers['authorization'])).toEqual(['Bearer t1', 'Bearer t2', 'Bearer t3']);
    expect(calls.map((call) => JSON.parse(new URL(call.url).searchParams.get('connectionParams')!) as unknown)).toEqual(
      [{ token: 'p1' }, { token: 'p2' }, { token: 'p3' }],
    );
    // The last tracked id rides along as Last-Event-ID.
    expect(calls.map((call) => call.headers['last-event-id'])).toEqual([undefined, '1', '2']);
    expect(calls.every((call) => call.headers['accept']?.startsWith('text/event-stream'))).toBe(true);
  });

  /** The delays the client waits before reconnecting, with the backoff's jitter pinned to its floor. */
  function recordBackoffs(): number[] {
    const delays: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    vi.spyOn(Math, 'random').mockReturnValue(0);
    vi.spyOn(globalThis, 'setTimeout').mockImplementation((fn: () => void, ms?: number) => {
      delays.push(ms ?? 0);
      return realSetTimeout(fn, ms);
    });
    cleanup.push(() => vi.restoreAllMocks());
    return delays;
  }

  test('the server’s retry: field replaces the default backoff floor', async () => {
    const { fetch, calls } = scriptedFetch((_call, signal) =>
      calls.length === 1
        ? sseResponse(['retry: 777\n\n', 'event: connected\ndata: {}\n\n'])
        : sseResponse(['event: connected\ndata: {}\n\n'], { hold: true, signal }),
    );
    const delays = recordBackoffs();
    const c = new Collector();
    createTRPCClient<TestRouter>({
      links: [sseLink({ url: 'http://x/trpc', fetch, retry: { maxDelayMs: 600_000 }, mode: 'distinct' })],
    }).idle.subscribe(undefined, c.handlers());
    await c.until(() => calls.length === 2, 'a second attempt');
    // The default floor (500) would have been the wait; the server's 777 was.
    expect(delays).toContain(777);
    expect(delays).not.toContain(500);
  });

  test('an explicit minDelayMs is the app’s word: the server’s retry: does not override it', async () => {
    const { fetch, calls } = scriptedFetch((_call, signal) =>
      calls.length === 1
        ? sseResponse(['retry: 600000\n\n', 'event: connected\ndata: {}\n\n'])
        : sseResponse(['event: connected\ndata: {}\n\n'], { hold: true, signal }),
    );
    const delays = recordBackoffs();
    const c = new Collector();
    createTRPCClient<TestRouter>({
      links: [
        sseLink({ url: 'http://x/trpc', fetch, retry: { minDelayMs: 3, maxDelayMs: 600_000 }, mode: 'distinct' }),
      ],
    }).idle.subscribe(undefined, c.handlers());
    await c.until(() => calls.length === 2, 'a second attempt');
    expect(delays).toContain(3);
    expect(delays).not.toContain(600_000);
  });

  test('the browser coming back online reconnects at once', async () => {
    const target = new EventTarget();
    const globals = globalThis as { addEventListener?: unknown; removeEventListener?: unknown };
    const saved = { add: globals.addEventListener, remove: globals.removeEventListener };
    globals.addEventListener = target.addEventListener.bind(target);
    globals.removeEventListener = target.removeEventListener.bind(target);
    cleanup.push(() => {
      globals.addEventListener = saved.add;
      globals.removeEventListener = saved.remove;
    });
    const { fetch, calls } = scriptedFetch((_call, signal) => {
      if (calls.length === 1) throw new TypeError('fetch failed');
      return sseResponse(['event: connected\ndata: {}\n\n'], { hold: true, signal });
    });
    const sse = createSSEClient({
      url: 'http://x/trpc',
      fetch,
      retry: { minDelayMs: 600_000, maxDelayMs: 600_000 },
      mode: 'distinct',
    });
    cleanup.push(() => sse.close());
    const c = new Collector();
    createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] }).idle.subscribe(undefined, c.handlers());
    await c.until(() => c.states.some((s) => s.state === 'connecting' && s.error), 'the failure');
    expect(calls).toHaveLength(1);
    target.dispatchEvent(new Event('online'));
    await c.until(() => c.states.at(-1)?.state === 'pending', 'the reconnect');
    expect(calls).toHaveLength(2);
  });

  test('silence longer than reconnectAfterInactivityMs reconnects', async () => {
    const { fetch, calls } = scriptedFetch((_call, signal) =>
      sseResponse(['event: connected\ndata: {"reconnectAfterInactivityMs":30}\n\n'], { hold: true, signal }),
    );
    const c = new Collector();
    const sub = createTRPCClient<TestRouter>({
      links: [sseLink({ url: 'http://x/trpc', fetch, retry: FAST, mode: 'distinct' })],
    }).idle.subscribe(undefined, c.handlers());
    await c.until(() => calls.length >= 3, 'reconnects after silence');
    sub.unsubscribe();
    const timeouts = c.states.filter((s) => s.error?.data?.code === 'TIMEOUT');
    expect(timeouts.length).toBeGreaterThanOrEqual(2);
  });

  test('a line longer than maxLineLength is treated as a broken connection', async () => {
    const { fetch, calls } = scriptedFetch((_call, signal) =>
      calls.length === 1
        ? sseResponse(['event: connected\ndata: {}\n\n', `data: "${'x'.repeat(5000)}"\n\n`])
        : sseResponse(['event: connected\ndata: {}\n\n', 'data: "ok"\n\n'], { hold: true, signal }),
    );
    const c = new Collector();
    const sub = createTRPCClient<TestRouter>({
      links: [sseLink({ url: 'http://x/trpc', fetch, retry: FAST, maxLineLength: 1000, mode: 'distinct' })],
    }).idle.subscribe(undefined, c.handlers());
    await c.untilData(1);
    sub.unsubscribe();
    expect(c.data).toEqual(['ok']);
    expect(calls).toHaveLength(2);
  });

  test.each(MODES)('unsubscribing stops the procedure on the server (%s)', async (mode) => {
    const { server, probe } = await serve();
    const c = new Collector();
    const finished = probe.next('finished');
    const sub = trpcClient(server.url, { mode }).idle.subscribe(undefined, c.handlers());
    await c.untilData(1);
    sub.unsubscribe();
    await finished;
    expect(probe.finished).toBe(1);
  });
});

describe('createSSEClient', () => {
  test('distinct: connectionState follows the subscriptions: idle → connecting → pending → idle', async () => {
    const { server } = await serve();
    const sse = createSSEClient({ url: server.url, retry: FAST, mode: 'distinct' });
    cleanup.push(() => sse.close());
    const states: string[] = [];
    const stateSub = sse.connectionState.subscribe({ next: (s) => states.push(s.state) });
    const c = new Collector();
    const client = createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] });
    const sub = client.idle.subscribe(undefined, c.handlers());
    await c.untilData(1);
    sub.unsubscribe();
    stateSub.unsubscribe();
    expect(states).toEqual(['idle', 'connecting', 'pending', 'idle']);
  });

  test.each(MODES)('close() completes every subscription (%s)', async (mode) => {
    const { server, probe } = await serve();
    const sse = createSSEClient({ url: server.url, retry: FAST, mode });
    const client = createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] });
    const collectors = [new Collector(), new Collector()];
    for (const c of collectors) client.idle.subscribe(undefined, c.handlers());
    await Promise.all(collectors.map((c) => c.untilData(1)));
    const bothFinished = new Promise<void>((resolve) => probe.on('finished', () => probe.finished === 2 && resolve()));
    sse.close();
    expect(collectors.every((c) => c.completed)).toBe(true);
    await bothFinished;
  });
});
