/**
 * Interop, the other way: OUR `sseLink` (distinct mode) against STOCK tRPC servers — the
 * standalone adapter and `fetchRequestHandler` of the pinned release and of the newest one,
 * each serving a router built with its own release's `initTRPC`.
 */
import { createTRPCUntypedClient } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import type { Unsubscribable } from '@trpc/server/observable';
import superjson from 'superjson';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { sseLink } from '../../src/client/index.js';
import type { FetchLike, SSEClientOptions } from '../../src/client/index.js';
import { Collector } from '../helpers/collector.js';
import {
  createStockRouter,
  latestServerKit,
  pinnedServerKit,
  serverKits,
  startStockFetch,
  startStockStandalone,
  within,
  type StockRouter,
  type StockServer,
} from './latestTrpc.js';

type Setup = ReturnType<typeof createStockRouter>;
type Tracked<T> = { id: string; data: T };

const WAIT_MS = 5_000;

const adapters = [
  { name: 'standalone adapter (createHTTPHandler on node:http)', start: startStockStandalone },
  { name: 'fetchRequestHandler (behind a node:http bridge)', start: startStockFetch },
];

test('the server kits are the pinned and the newest tRPC releases', () => {
  expect(pinnedServerKit.version).toBe('11.19.0');
  expect(latestServerKit.version).toBe('11.25.2');
  expect(latestServerKit.initTRPC).not.toBe(pinnedServerKit.initTRPC);
});

describe.each(serverKits)('our sseLink against stock $name ($version)', (kit) => {
  describe.each(adapters)('$name', (adapter) => {
    let setup: Setup;
    let stock: StockServer;
    const subscriptions: Unsubscribable[] = [];

    beforeAll(async () => {
      setup = createStockRouter(kit);
      stock = await adapter.start(kit, setup.router);
    });
    afterEach(() => {
      for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
    });
    afterAll(() => stock.close());

    /** Subscribes through our link (short backoff); every request it makes is recorded. */
    function subscribe(path: string, input: unknown, opts: Partial<SSEClientOptions> = {}) {
      const requests: Array<{ url: string; headers: Record<string, string> }> = [];
      const recordingFetch: FetchLike = (url, init) => {
        requests.push({ url, headers: { ...init.headers } });
        return fetch(url, init);
      };
      const client = createTRPCUntypedClient<StockRouter>({
        links: [
          sseLink<StockRouter>({
            url: stock.url,
            fetch: recordingFetch,
            retry: { minDelayMs: 10, maxDelayMs: 50 },
            ...opts,
          }),
        ],
      });
      const c = new Collector();
      subscriptions.push(client.subscription(path, input, c.handlers()));
      return { c, requests };
    }

    test('receives tracked events with their ids, then completes', async () => {
      const { c } = subscribe('counter', { count: 3 });
      await c.until(() => c.completed, 'completion', WAIT_MS);
      expect(c.data).toEqual([
        { id: '0', data: { n: 0 } },
        { id: '1', data: { n: 1 } },
        { id: '2', data: { n: 2 } },
      ]);
      expect(c.started).toBe(1);
      expect(c.stopped).toBe(1);
      expect(c.errors).toEqual([]);
    });

    test('receives untracked values, then completes', async () => {
      const { c } = subscribe('plain', 3);
      await c.until(() => c.completed, 'completion', WAIT_MS);
      expect(c.data).toEqual([0, 1, 2]);
      expect(c.errors).toEqual([]);
    });

    test.each([
      // The stock server answers this one with a JSON error body and HTTP 404, not a stream.
      { what: 'an unknown path', path: 'nope.missing', input: undefined, code: 'NOT_FOUND', message: /nope\.missing/ },
      { what: 'bad input', path: 'counter', input: { count: 'three' }, code: 'BAD_REQUEST', message: /count/ },
      { what: 'createContext throwing', path: 'secret', input: undefined, code: 'UNAUTHORIZED', message: /Sign in first/ },
    ])('$what fails with a typed $code error, without retrying', async ({ path, input, code, message }) => {
      const { c, requests } = subscribe(path, input);
      const error = await c.untilError(WAIT_MS);
      expect(error.name).toBe('TRPCClientError');
      expect(error.data?.code).toBe(code);
      expect(error.message).toMatch(message);
      expect(c.data).toEqual([]);
      expect(requests).toHaveLength(1);
    });

    test('a query called as a subscription fails with a typed error instead of hanging', async () => {
      const { c } = subscribe('hello', undefined);
      const error = await c.untilError(WAIT_MS);
      expect(error.name).toBe('TRPCClientError');
      expect(error.data?.code).toBe('METHOD_NOT_SUPPORTED');
      expect(c.data).toEqual([]);
    });

    test('an Authorization header passes the stock createContext', async () => {
      const { c } = subscribe('secret', undefined, { headers: { authorization: 'Bearer alice' } });
      await c.until(() => c.completed, 'completion', WAIT_MS);
      expect(c.errors).toEqual([]);
      expect(c.data).toEqual([{ user: 'alice' }]);
    });

    test('connectionParams reach the stock createContext as info.connectionParams', async () => {
      const { c } = subscribe('secret', undefined, { connectionParams: { user: 'bob' } });
      await c.until(() => c.completed, 'completion', WAIT_MS);
      expect(c.errors).toEqual([]);
      expect(c.data).toEqual([{ user: 'bob' }]);
    });

    test('an error thrown mid-stream (FORBIDDEN) arrives typed after the data', async () => {
      const { c, requests } = subscribe('failing', { after: 2 });
      const error = await c.untilError(WAIT_MS);
      expect(error.name).toBe('TRPCClientError');
      expect(error.data?.code).toBe('FORBIDDEN');
      expect(error.message).toBe('failed with FORBIDDEN');
      expect(c.data).toEqual([0, 1]);
      expect(requests).toHaveLength(1);
    });

    test('unsubscribing stops the stock procedure', async () => {
      const started = within(setup.probe.next('started'), '`journal` to start');
      const finished = within(setup.probe.next('finished'), '`journal` to finish');
      const { c } = subscribe('journal', undefined);
      await started;
      await c.until(() => c.started >= 1, 'the `connected` event', WAIT_MS);
      subscriptions.pop()!.unsubscribe();
      await finished;
    });

    test('resumes after the server drops every connection: sends the last id, and every event arrives exactly once, in order', async () => {
      const { probe, append } = setup;
      const firstStart = within(probe.next('started'), '`journal` to start');
      const { c, requests } = subscribe('journal', undefined);
      expect(await firstStart).toBeUndefined();
      await c.until(() => c.started >= 1, 'the `connected` event', WAIT_MS);
      const first = [append('one'), append('two'), append('three')];
      await c.untilData(3, WAIT_MS);

      const restart = within(probe.next('started'), '`journal` to start again after the reconnect');
      // Keep listening, but cut every open connection mid-stream (no `return`).
      stock.server.closeAllConnections();
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
    });
  });
});

describe.each(serverKits)('our sseLink with superjson against stock $name ($version)', (kit) => {
  describe.each(adapters)('$name', (adapter) => {
    let stock: StockServer;
    const subscriptions: Unsubscribable[] = [];

    beforeAll(async () => {
      stock = await adapter.start(kit, createStockRouter(kit, { transformer: true }).router);
    });
    afterEach(() => {
      for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
    });
    afterAll(() => stock.close());

    function subscribe(path: string, input: unknown) {
      const client = createTRPCUntypedClient<AnyTRPCRouter>({
        links: [sseLink<AnyTRPCRouter>({ url: stock.url, transformer: superjson, retry: { minDelayMs: 10, maxDelayMs: 50 } })],
      });
      const c = new Collector();
      subscriptions.push(client.subscription(path, input, c.handlers()));
      return c;
    }

    test('values come through the transformer intact', async () => {
      const c = subscribe('when', undefined);
      await c.until(() => c.completed, 'completion', WAIT_MS);
      expect(c.errors).toEqual([]);
      expect(c.data).toEqual([{ id: '1', data: { at: new Date(0), big: 2n ** 70n } }]);
    });

    test.each([
      // A JSON error body (HTTP 404) whose `error` the stock server ran through the transformer.
      { what: 'an unknown path', path: 'nope.missing', input: undefined, code: 'NOT_FOUND', message: /nope\.missing/ },
      { what: 'bad input', path: 'counter', input: { count: 'three' }, code: 'BAD_REQUEST', message: /count/ },
      { what: 'createContext throwing', path: 'secret', input: undefined, code: 'UNAUTHORIZED', message: /Sign in first/ },
    ])('$what fails with a typed $code error and the server’s message', async ({ path, input, code, message }) => {
      const c = subscribe(path, input);
      const error = await c.untilError(WAIT_MS);
      expect(error.name).toBe('TRPCClientError');
      expect(error.data?.code).toBe(code);
      expect(error.message).toMatch(message);
    });

    test('a query called as a subscription fails with a typed error instead of hanging', async () => {
      const c = subscribe('hello', undefined);
      const error = await c.untilError(WAIT_MS);
      expect(error.data?.code).toBe('METHOD_NOT_SUPPORTED');
    });
  });
});

describe.each(serverKits)('our sseLink against a stock $name server that never pings ($version)', (kit) => {
  let setup: Setup;
  let stock: StockServer;
  const subscriptions: Unsubscribable[] = [];

  beforeAll(async () => {
    // The server tells clients to give up on a stream silent for 300 ms, and sends no pings.
    setup = createStockRouter(kit, { sse: { ping: { enabled: false }, client: { reconnectAfterInactivityMs: 300 } } });
    stock = await startStockStandalone(kit, setup.router);
  });
  afterEach(() => {
    for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
  });
  afterAll(() => stock.close());

  test('reconnects after the announced inactivity timeout and resumes from the last id', async () => {
    const { probe, append } = setup;
    const firstStart = within(probe.next('started'), '`journal` to start');
    const client = createTRPCUntypedClient<StockRouter>({
      links: [sseLink<StockRouter>({ url: stock.url, retry: { minDelayMs: 10, maxDelayMs: 50 } })],
    });
    const c = new Collector();
    subscriptions.push(client.subscription('journal', undefined, c.handlers()));
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
  });
});
