/**
 * Interop, the other way: OUR `sseLink` against STOCK tRPC servers — the standalone adapter
 * and `fetchRequestHandler` of the pinned release and of the newest one, each serving a router
 * built with its own release's `initTRPC`.
 *
 * Every scenario runs twice: with `mode: 'distinct'` (tRPC's own dialect, one stream per
 * subscription), and with the default `mode: 'auto'`, which first GETs the multiplexed stream
 * at the endpoint itself (PROTOCOL.md §2.6), gets a 404 from the stock server, and must then
 * behave exactly like distinct mode for the client's lifetime. `mode: 'multiplexed'` must
 * fail with a typed error instead of falling back.
 */
import { createTRPCUntypedClient } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import type { Unsubscribable } from '@trpc/server/observable';
import superjson from 'superjson';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { createSSEClient, sseLink } from '../../src/client/index.js';
import type { CreateSSEClientOptions, SSEClient } from '../../src/client/index.js';
import { MUX_PATH } from '../../src/protocol.js';
import { Collector, expectTrackedCounterCompleted } from '../helpers/collector.js';
import {
  createStockRouter,
  latestServerKit,
  pinnedServerKit,
  recordingFetch,
  serverKits,
  startStockFetch,
  startStockStandalone,
  within,
  type StockRouter,
  type StockServer,
  type WireRequest,
} from './latestTrpc.js';

type Setup = ReturnType<typeof createStockRouter>;
interface Tracked<T> {
  id: string;
  data: T;
}
type Mode = NonNullable<CreateSSEClientOptions['mode']>;

const WAIT_MS = 5_000;
const RETRY = { minDelayMs: 10, maxDelayMs: 50 };

const adapters = [
  { name: 'standalone adapter (createHTTPHandler on node:http)', start: startStockStandalone },
  { name: 'fetchRequestHandler (behind a node:http bridge)', start: startStockFetch },
];

/** The modes that must work against a stock server. `auto` is left unset: it is the default. */
const modes: Array<{ name: string; mode: 'distinct' | 'auto'; option: { mode?: Mode } }> = [
  { name: "mode: 'distinct'", mode: 'distinct', option: { mode: 'distinct' } },
  { name: "mode: 'auto' (default), falling back to distinct", mode: 'auto', option: {} },
];

/** A client that connects (and so probes) at creation, without waiting for a subscription. */
const EAGER = { lazy: { enabled: false } } as const;

/** The request's URL without its query. */
const pathOf = (request: WireRequest): string => request.url.split('?')[0]!;

/**
 * Checks how the client reached distinct mode and returns its subscription requests: in auto
 * mode exactly one GET of `{endpoint}/trpc-sse` (the multiplexed stream), first of all and
 * answered 404 by the stock server; in distinct mode none. Every other request is a GET of
 * `{endpoint}/{path}` (when `path` is given), and the client reports `mode: 'distinct'`.
 */
function distinctStreams(
  endpoint: string,
  mode: 'distinct' | 'auto',
  client: SSEClient,
  requests: WireRequest[],
  path?: string,
): WireRequest[] {
  const probes = requests.filter((r) => pathOf(r) === `${endpoint}/${MUX_PATH}`);
  const streams = requests.filter((r) => pathOf(r) !== `${endpoint}/${MUX_PATH}`);
  if (mode === 'auto') {
    expect(probes).toHaveLength(1);
    expect(requests[0]).toBe(probes[0]);
    // (It may carry the first subscriptions in its query: a stock server ignores them.)
    expect(probes[0]).toMatchObject({ method: 'GET', status: 404 });
    expect(probes[0]!.headers['accept']).toMatch(/^text\/event-stream/);
  } else {
    expect(probes).toEqual([]);
  }
  for (const stream of streams) {
    expect(stream.method).toBe('GET');
    if (path !== undefined) expect(pathOf(stream)).toBe(`${endpoint}/${path}`);
  }
  expect(client.mode).toBe('distinct');
  return streams;
}

test('the server kits are the pinned and the newest tRPC releases', () => {
  expect(pinnedServerKit.version).toBe('11.19.0');
  expect(latestServerKit.version).toBe('11.25.2');
  expect(latestServerKit.initTRPC).not.toBe(pinnedServerKit.initTRPC);
});

/**
 * A fresh stock router and server for the enclosing `describe` (each mode gets its own, so
 * the `journal` log of one never leaks into another's), started in `beforeAll`.
 */
function useStockServer(
  kit: (typeof serverKits)[number],
  start: (kit: (typeof serverKits)[number], router: StockRouter) => Promise<StockServer>,
  routerOpts?: Parameters<typeof createStockRouter>[1],
): { setup: Setup; stock: StockServer } {
  const ctx = {} as { setup: Setup; stock: StockServer };
  beforeAll(async () => {
    ctx.setup = createStockRouter(kit, routerOpts);
    ctx.stock = await start(kit, ctx.setup.router);
  });
  afterAll(() => ctx.stock.close());
  return ctx;
}

describe.each(serverKits)('our sseLink against stock $name ($version)', (kit) => {
  describe.each(adapters)('$name', (adapter) => {
    const subscriptions: Unsubscribable[] = [];
    const clients: SSEClient[] = [];

    afterEach(() => {
      for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
      for (const client of clients.splice(0)) client.close();
    });

    /** A client of ours (short backoff) for `stock` that records every request it makes. */
    function newClient(stock: StockServer, opts: Partial<CreateSSEClientOptions> = {}) {
      const requests: WireRequest[] = [];
      const client = createSSEClient({ url: stock.url, fetch: recordingFetch(requests), retry: RETRY, ...opts });
      clients.push(client);
      const trpc = createTRPCUntypedClient<StockRouter>({ links: [sseLink<StockRouter>({ client })] });
      const subscribe = (path: string, input: unknown): Collector => {
        const c = new Collector();
        subscriptions.push(trpc.subscription(path, input, c.handlers()));
        return c;
      };
      return { client, requests, subscribe };
    }

    describe.each(modes)('$name', ({ mode, option }) => {
      const ctx = useStockServer(kit, adapter.start);

      /** Subscribes through a new client of ours; every request it makes is recorded. */
      function subscribe(path: string, input: unknown, opts: Partial<CreateSSEClientOptions> = {}) {
        const onError = vi.fn();
        const { client, requests, subscribe: sub } = newClient(ctx.stock, { ...option, onError, ...opts });
        const c = sub(path, input);
        return {
          c,
          requests,
          client,
          onError,
          streams: () => distinctStreams(ctx.stock.url, mode, client, requests, path),
        };
      }

      test('receives tracked events with their ids, then completes', async () => {
        const { c, streams, onError } = subscribe('counter', { count: 3 });
        await c.until(() => c.completed, 'completion', WAIT_MS);
        expectTrackedCounterCompleted(c, 3);
        expect(streams()).toHaveLength(1);
        // The probe's 404 is not a connection failure: nobody hears of it.
        expect(c.states.filter((s) => s.error)).toEqual([]);
        expect(onError).not.toHaveBeenCalled();
      });

      test('receives untracked values, then completes', async () => {
        const { c, streams } = subscribe('plain', 3);
        await c.until(() => c.completed, 'completion', WAIT_MS);
        expect(c.data).toEqual([0, 1, 2]);
        expect(c.errors).toEqual([]);
        expect(streams()).toHaveLength(1);
      });

      test.each([
        // The stock server answers this one with a JSON error body and HTTP 404, not a stream.
        {
          what: 'an unknown path',
          path: 'nope.missing',
          input: undefined,
          code: 'NOT_FOUND',
          message: /nope\.missing/,
        },
        { what: 'bad input', path: 'counter', input: { count: 'three' }, code: 'BAD_REQUEST', message: /count/ },
        {
          what: 'createContext throwing',
          path: 'secret',
          input: undefined,
          code: 'UNAUTHORIZED',
          message: /Sign in first/,
        },
      ])('$what fails with a typed $code error, without retrying', async ({ path, input, code, message }) => {
        const { c, streams } = subscribe(path, input);
        const error = await c.untilError(WAIT_MS);
        expect(error.name).toBe('TRPCClientError');
        expect(error.data?.code).toBe(code);
        expect(error.message).toMatch(message);
        expect(c.data).toEqual([]);
        expect(streams()).toHaveLength(1);
      });

      test('a query called as a subscription fails with a typed error instead of hanging', async () => {
        const { c, streams } = subscribe('hello', undefined);
        const error = await c.untilError(WAIT_MS);
        expect(error.name).toBe('TRPCClientError');
        expect(error.data?.code).toBe('METHOD_NOT_SUPPORTED');
        expect(c.data).toEqual([]);
        expect(streams()).toHaveLength(1);
      });

      test('an Authorization header passes the stock createContext', async () => {
        const { c, requests, streams } = subscribe('secret', undefined, { headers: { authorization: 'Bearer alice' } });
        await c.until(() => c.completed, 'completion', WAIT_MS);
        expect(c.errors).toEqual([]);
        expect(c.data).toEqual([{ user: 'alice' }]);
        expect(streams()).toHaveLength(1);
        // Every request, the probe included, carries the application's headers.
        for (const request of requests) expect(request.headers['authorization']).toBe('Bearer alice');
      });

      test('connectionParams reach the stock createContext as info.connectionParams', async () => {
        const { c, streams } = subscribe('secret', undefined, { connectionParams: { user: 'bob' } });
        await c.until(() => c.completed, 'completion', WAIT_MS);
        expect(c.errors).toEqual([]);
        expect(c.data).toEqual([{ user: 'bob' }]);
        const [stream] = streams();
        expect(new URL(stream!.url).searchParams.get('connectionParams')).toBe(JSON.stringify({ user: 'bob' }));
      });

      test('an error thrown mid-stream (FORBIDDEN) arrives typed after the data', async () => {
        const { c, streams } = subscribe('failing', { after: 2 });
        const error = await c.untilError(WAIT_MS);
        expect(error.name).toBe('TRPCClientError');
        expect(error.data?.code).toBe('FORBIDDEN');
        expect(error.message).toBe('failed with FORBIDDEN');
        expect(c.data).toEqual([0, 1]);
        expect(streams()).toHaveLength(1);
      });

      test('unsubscribing stops the stock procedure', async () => {
        const started = within(ctx.setup.probe.next('started'), '`journal` to start');
        const finished = within(ctx.setup.probe.next('finished'), '`journal` to finish');
        const { c, streams } = subscribe('journal', undefined);
        await started;
        await c.until(() => c.started >= 1, 'the `connected` event', WAIT_MS);
        subscriptions.pop()!.unsubscribe();
        await finished;
        expect(streams()).toHaveLength(1);
      });

      test('resumes after the server drops every connection: sends the last id, and every event arrives exactly once, in order', async () => {
        const { probe, append } = ctx.setup;
        const firstStart = within(probe.next('started'), '`journal` to start');
        const { c, requests, streams } = subscribe('journal', undefined);
        expect(await firstStart).toBeUndefined();
        await c.until(() => c.started >= 1, 'the `connected` event', WAIT_MS);
        const first = [append('one'), append('two'), append('three')];
        await c.untilData(3, WAIT_MS);

        const restart = within(probe.next('started'), '`journal` to start again after the reconnect');
        // Keep listening, but cut every open connection mid-stream (no `return`).
        ctx.stock.server.closeAllConnections();
        // Written while the client is away: the log must replay them.
        const missed = [append('four'), append('five')];
        expect(await restart).toEqual({ lastEventId: String(first.at(-1)) });
        expect(requests.at(-1)?.headers['last-event-id']).toBe(String(first.at(-1)));
        const later = append('six');
        await c.untilData(6, WAIT_MS);

        const ids = (c.data as Array<Tracked<{ id: number; text: string }>>).map((d) => d.id);
        expect(ids).toEqual([...first, ...missed, later].map(String));
        expect((c.data as Array<Tracked<{ id: number; text: string }>>)[3]).toEqual({
          id: String(missed[0]),
          data: { id: missed[0], text: 'four' },
        });
        expect(c.errors).toEqual([]);
        expect(c.completed).toBe(false);
        // The drop shows as a reconnect (`connecting` after `pending`), then `pending` again.
        const states = c.states.map((s) => s.state);
        expect(states.lastIndexOf('connecting')).toBeGreaterThan(states.indexOf('pending'));
        expect(states.at(-1)).toBe('pending');
        // The reconnect is a distinct stream again: auto mode does not probe a second time.
        const reconnects = streams();
        expect(reconnects).toHaveLength(2);
        expect(reconnects[0]!.headers['last-event-id']).toBeUndefined();
      });
    });

    describe("mode: 'auto' detection", () => {
      const ctx = useStockServer(kit, adapter.start);

      test("a new client reports 'auto' until the server answers, then 'distinct' after one probe, with no subscription needed", async () => {
        const { client, requests, subscribe } = newClient(ctx.stock, EAGER);
        expect(client.mode).toBe('auto');
        await vi.waitFor(() => expect(client.mode).toBe('distinct'), { timeout: WAIT_MS, interval: 5 });
        expect(requests).toEqual([
          { url: `${ctx.stock.url}/${MUX_PATH}`, method: 'GET', headers: expect.any(Object) as unknown, status: 404 },
        ]);
        // A subscription made afterwards goes straight to its own stream.
        const c = subscribe('counter', { count: 1 });
        await c.until(() => c.completed, 'completion', WAIT_MS);
        expect(c.data).toEqual([{ id: '0', data: { n: 0 } }]);
        expect(distinctStreams(ctx.stock.url, 'auto', client, requests, 'counter')).toHaveLength(1);
      });

      test('after a fallback with no subscription, the client-wide connectionState is idle (as a distinct client’s)', async () => {
        const { client } = newClient(ctx.stock, EAGER);
        const states: unknown[] = [];
        const watch = client.connectionState.subscribe({ next: (state) => states.push(state) });
        try {
          await vi.waitFor(() => expect(client.mode).toBe('distinct'), { timeout: WAIT_MS, interval: 5 });
          // It was `connecting` while the probe was out; nothing is left to connect.
          expect(states).toContainEqual({ type: 'state', state: 'connecting', error: null });
          expect(states.at(-1)).toEqual({ type: 'state', state: 'idle', error: null });
        } finally {
          watch.unsubscribe();
        }
      });

      test('probes once for the client’s lifetime: subscriptions made during the probe move to distinct streams, later ones go there directly', async () => {
        const { client, requests, subscribe } = newClient(ctx.stock);
        // Both are made before the probe's answer can arrive.
        const a = subscribe('counter', { count: 2 });
        const b = subscribe('plain', 2);
        expect(client.mode).toBe('auto');
        await a.until(() => a.completed, '`counter` to complete', WAIT_MS);
        await b.until(() => b.completed, '`plain` to complete', WAIT_MS);
        expect(a.data).toEqual([
          { id: '0', data: { n: 0 } },
          { id: '1', data: { n: 1 } },
        ]);
        expect(b.data).toEqual([0, 1]);
        expect([a.started, a.stopped, b.started, b.stopped]).toEqual([1, 1, 1, 1]);
        const c = subscribe('plain', 1);
        await c.until(() => c.completed, 'the third subscription to complete', WAIT_MS);
        expect(c.data).toEqual([0]);
        const streams = distinctStreams(ctx.stock.url, 'auto', client, requests);
        expect(streams.map(pathOf).sort()).toEqual([
          `${ctx.stock.url}/counter`,
          `${ctx.stock.url}/plain`,
          `${ctx.stock.url}/plain`,
        ]);
      });

      test('a subscription unsubscribed while the probe is in flight never opens a stream', async () => {
        const { client, requests, subscribe } = newClient(ctx.stock, EAGER);
        subscribe('journal', undefined);
        subscriptions.pop()!.unsubscribe();
        await vi.waitFor(() => expect(client.mode).toBe('distinct'), { timeout: WAIT_MS, interval: 5 });
        const c = subscribe('counter', { count: 1 });
        await c.until(() => c.completed, 'completion', WAIT_MS);
        expect(distinctStreams(ctx.stock.url, 'auto', client, requests).map(pathOf)).toEqual([
          `${ctx.stock.url}/counter`,
        ]);
      });

      test('by default (lazy), nothing is requested before the first subscription; then one probe and its stream', async () => {
        const { client, requests, subscribe } = newClient(ctx.stock);
        await new Promise((resolve) => setTimeout(resolve, 30));
        expect(requests).toEqual([]);
        expect(client.mode).toBe('auto');
        const c = subscribe('counter', { count: 1 });
        await c.until(() => c.completed, 'completion', WAIT_MS);
        expect(c.data).toEqual([{ id: '0', data: { n: 0 } }]);
        expect(distinctStreams(ctx.stock.url, 'auto', client, requests, 'counter')).toHaveLength(1);
      });
    });

    describe("mode: 'multiplexed'", () => {
      const ctx = useStockServer(kit, adapter.start);

      test('fails with a typed NOT_FOUND error and never falls back to distinct streams', async () => {
        const onError = vi.fn();
        const { client, requests, subscribe } = newClient(ctx.stock, { mode: 'multiplexed', onError });
        const c = subscribe('counter', { count: 3 });
        const error = await c.untilError(WAIT_MS);
        expect(error.name).toBe('TRPCClientError');
        expect(error.data?.code).toBe('NOT_FOUND');
        expect(error.data?.httpStatus).toBe(404);
        expect(error.message).toMatch(/No procedure found/);
        expect(c.errors).toHaveLength(1);
        expect(c.data).toEqual([]);
        expect(c.completed).toBe(false);
        expect(onError).toHaveBeenCalledWith(error);
        expect(client.mode).toBe('multiplexed');
        // The multiplexed stream was asked for, and got the stock server's 404 ...
        expect(requests[0]).toMatchObject({ method: 'GET', status: 404 });
        expect(pathOf(requests[0]!)).toBe(`${ctx.stock.url}/${MUX_PATH}`);
        expect(requests[0]!.headers['accept']).toMatch(/^text\/event-stream/);
        // ... and the client never turned to the procedure's own stream.
        expect(requests.filter((r) => pathOf(r) !== `${ctx.stock.url}/${MUX_PATH}`)).toEqual([]);
      });

      test('after that failure the client does not keep re-requesting the stream', async () => {
        const { client, requests, subscribe } = newClient(ctx.stock, { mode: 'multiplexed' });
        const c = subscribe('counter', { count: 3 });
        await c.untilError(WAIT_MS);
        // NOT_FOUND is not retried, and nothing is subscribed any more: no further request.
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(client.mode).toBe('multiplexed');
        expect(requests.filter((r) => pathOf(r) !== `${ctx.stock.url}/${MUX_PATH}`)).toEqual([]);
        expect(requests).toHaveLength(1);
      });
    });
  });
});

describe.each(serverKits)('our sseLink with superjson against stock $name ($version)', (kit) => {
  describe.each(adapters)('$name', (adapter) => {
    let stock: StockServer;
    const subscriptions: Unsubscribable[] = [];
    const clients: SSEClient[] = [];

    beforeAll(async () => {
      stock = await adapter.start(kit, createStockRouter(kit, { transformer: true }).router);
    });
    afterEach(() => {
      for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
      for (const client of clients.splice(0)) client.close();
    });
    afterAll(() => stock.close());

    describe.each(modes)('$name', ({ mode, option }) => {
      function subscribe(path: string, input: unknown) {
        const requests: WireRequest[] = [];
        const client = createSSEClient({ url: stock.url, fetch: recordingFetch(requests), retry: RETRY, ...option });
        clients.push(client);
        const trpc = createTRPCUntypedClient<AnyTRPCRouter>({
          links: [sseLink<AnyTRPCRouter>({ client, transformer: superjson })],
        });
        const c = new Collector();
        subscriptions.push(trpc.subscription(path, input, c.handlers()));
        return { c, streams: () => distinctStreams(stock.url, mode, client, requests, path) };
      }

      test('values come through the transformer intact', async () => {
        const { c, streams } = subscribe('when', undefined);
        await c.until(() => c.completed, 'completion', WAIT_MS);
        expect(c.errors).toEqual([]);
        expect(c.data).toEqual([{ id: '1', data: { at: new Date(0), big: 2n ** 70n } }]);
        expect(streams()).toHaveLength(1);
      });

      test.each([
        // A JSON error body (HTTP 404) whose `error` the stock server ran through the transformer.
        {
          what: 'an unknown path',
          path: 'nope.missing',
          input: undefined,
          code: 'NOT_FOUND',
          message: /nope\.missing/,
        },
        { what: 'bad input', path: 'counter', input: { count: 'three' }, code: 'BAD_REQUEST', message: /count/ },
        {
          what: 'createContext throwing',
          path: 'secret',
          input: undefined,
          code: 'UNAUTHORIZED',
          message: /Sign in first/,
        },
      ])('$what fails with a typed $code error and the server’s message', async ({ path, input, code, message }) => {
        const { c, streams } = subscribe(path, input);
        const error = await c.untilError(WAIT_MS);
        expect(error.name).toBe('TRPCClientError');
        expect(error.data?.code).toBe(code);
        expect(error.message).toMatch(message);
        expect(streams()).toHaveLength(1);
      });

      test('a query called as a subscription fails with a typed error instead of hanging', async () => {
        const { c, streams } = subscribe('hello', undefined);
        const error = await c.untilError(WAIT_MS);
        expect(error.data?.code).toBe('METHOD_NOT_SUPPORTED');
        expect(streams()).toHaveLength(1);
      });
    });
  });
});

describe.each(serverKits)('our sseLink against a stock $name server that never pings ($version)', (kit) => {
  describe.each(modes)('$name', ({ mode, option }) => {
    // The server tells clients to give up on a stream silent for 300 ms, and sends no pings.
    const ctx = useStockServer(kit, startStockStandalone, {
      sse: { ping: { enabled: false }, client: { reconnectAfterInactivityMs: 300 } },
    });
    const subscriptions: Unsubscribable[] = [];
    const clients: SSEClient[] = [];

    afterEach(() => {
      for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
      for (const client of clients.splice(0)) client.close();
    });

    test('reconnects after the announced inactivity timeout and resumes from the last id', async () => {
      const { probe, append } = ctx.setup;
      const firstStart = within(probe.next('started'), '`journal` to start');
      const requests: WireRequest[] = [];
      const client = createSSEClient({ url: ctx.stock.url, fetch: recordingFetch(requests), retry: RETRY, ...option });
      clients.push(client);
      const trpc = createTRPCUntypedClient<StockRouter>({ links: [sseLink<StockRouter>({ client })] });
      const c = new Collector();
      subscriptions.push(trpc.subscription('journal', undefined, c.handlers()));
      await firstStart;
      const first = append('one');
      await c.untilData(1, WAIT_MS);

      // Nothing more is sent: after 300 ms of silence the client reconnects by itself.
      expect(await within(probe.next('started'), 'the reconnect after inactivity', 3_000)).toEqual({
        lastEventId: String(first),
      });
      const second = append('two');
      await c.untilData(2, WAIT_MS);
      expect((c.data as Array<Tracked<unknown>>).map((d) => d.id)).toEqual([String(first), String(second)]);
      expect(c.errors).toEqual([]);
      const timeout = c.states.find((s) => s.state === 'connecting' && s.error);
      expect(timeout?.error?.data?.code).toBe('TIMEOUT');
      // Two streams of `journal`, the second resuming; in auto mode, one probe before them.
      const streams = distinctStreams(ctx.stock.url, mode, client, requests, 'journal');
      expect(streams).toHaveLength(2);
      expect(streams[1]!.headers['last-event-id']).toBe(String(first));
    });
  });
});
