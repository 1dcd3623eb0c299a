/**
 * Interop, one way: tRPC's stock clients against OUR server (distinct mode, tRPC's own SSE
 * dialect). tRPC's `httpSubscriptionLink` of the pinned release and of the newest one, each
 * against our node:http handler and our Express middleware; then the same stream read by a
 * bare EventSource (what a browser does), and raw requests for the resume edge cases.
 */
import { initTRPC, tracked, TRPCError, type AnyTRPCRouter } from '@trpc/server';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import { EventSource } from 'eventsource';
import type { EventSourceMessage } from 'eventsource-parser';
import superjson from 'superjson';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { Collector, expectTrackedCounterCompleted } from '../helpers/collector.js';
import { createTestRouter } from '../helpers/router.js';
import { startExpressServer, startNodeServer, type RunningServer } from '../helpers/servers.js';
import {
  clientKits,
  eventSourceInit,
  kitsAreDistinct,
  lastEventIdOf,
  latestClientKit,
  pinnedClientKit,
  pinnedServerKit,
  readWholeStream,
  startStockStandalone,
  within,
  type RecordedRequest,
  type StockRouter,
  type StockServer,
} from './latestTrpc.js';

type TestSetup = ReturnType<typeof createTestRouter>;
interface Tracked<T> {
  id: string;
  data: T;
}

const serverKinds = [
  { name: 'node:http handler', start: (router: TestSetup['router']) => startNodeServer(router) },
  { name: 'Express middleware', start: (router: TestSetup['router']) => startExpressServer(router) },
];

/** Waits for a condition on a collector; short, so a broken case fails well inside the budget. */
const WAIT_MS = 5_000;

/**
 * Resolves once `done()` holds, re-checked on every `type` event of `source` (listeners added
 * earlier, which record the event, run first).
 */
function untilCount(source: EventSource, type: string, done: () => boolean, what: string): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      if (done()) return resolve();
      const check = (): void => {
        if (!done()) return;
        source.removeEventListener(type, check);
        resolve();
      };
      source.addEventListener(type, check);
    }),
    what,
  );
}

function inputQuery(input: unknown): string {
  return input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
}

test('the client kits are the pinned and the newest tRPC releases, loaded separately', () => {
  expect(pinnedClientKit.version).toBe('11.19.0');
  expect(latestClientKit.version).toBe('11.25.2');
  expect(kitsAreDistinct()).toBe(true);
});

describe.each(clientKits)('stock httpSubscriptionLink of $name ($version)', (kit) => {
  describe.each(serverKinds)('against our $name', (kind) => {
    let setup: TestSetup;
    let server: RunningServer;
    const subscriptions: Unsubscribable[] = [];

    beforeAll(async () => {
      setup = createTestRouter();
      server = await kind.start(setup.router);
    });
    afterEach(() => {
      for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
    });
    afterAll(() => server.close());

    /** Subscribes through a fresh stock client; every request it makes is recorded. */
    function subscribe(
      path: string,
      input: unknown,
      opts: { headers?: Record<string, string>; connectionParams?: Record<string, string> } = {},
    ) {
      const requests: RecordedRequest[] = [];
      const client = kit.createTRPCUntypedClient({
        links: [
          kit.httpSubscriptionLink({
            url: server.url,
            EventSource,
            eventSourceOptions: eventSourceInit({ requests, ...(opts.headers ? { headers: opts.headers } : {}) }),
            ...(opts.connectionParams ? { connectionParams: opts.connectionParams } : {}),
          }),
        ],
      });
      const c = new Collector();
      subscriptions.push(client.subscription(path, input, c.handlers()));
      return { c, requests };
    }

    test('receives tracked events with their ids, then completes on `return`', async () => {
      const { c } = subscribe('counter', { count: 3 });
      await c.until(() => c.completed, 'completion', WAIT_MS);
      expectTrackedCounterCompleted(c, 3);
    });

    test('receives untracked values, then completes', async () => {
      const { c } = subscribe('plain', 4);
      await c.until(() => c.completed, 'completion', WAIT_MS);
      expect(c.data).toEqual([0, 1, 2, 3]);
      expect(c.stopped).toBe(1);
      expect(c.errors).toEqual([]);
    });

    test.each([
      { what: 'an unknown path', path: 'nope.missing', input: undefined, code: 'NOT_FOUND', message: /nope\.missing/ },
      { what: 'bad input', path: 'counter', input: { count: 'three' }, code: 'BAD_REQUEST', message: /count/ },
      {
        what: 'no credentials for a protected procedure',
        path: 'secret',
        input: undefined,
        code: 'UNAUTHORIZED',
        message: /Sign in first/,
      },
    ])('$what fails with a typed $code error', async ({ path, input, code, message }) => {
      const { c } = subscribe(path, input);
      const error = await c.untilError(WAIT_MS);
      expect(kit.isTRPCClientError(error)).toBe(true);
      expect(error.data?.code).toBe(code);
      expect(error.message).toMatch(message);
      expect(c.data).toEqual([]);
    });

    test('headers from eventSourceOptions authorize a protected procedure', async () => {
      const { c, requests } = subscribe('secret', undefined, { headers: { authorization: 'Bearer alice' } });
      await c.until(() => c.completed, 'completion', WAIT_MS);
      expect(c.errors).toEqual([]);
      expect(c.data).toEqual([{ user: 'alice', params: null }]);
      expect(requests[0]?.headers['authorization']).toBe('Bearer alice');
    });

    test('connectionParams (sent as the `connectionParams` query parameter) authorize a protected procedure', async () => {
      const { c, requests } = subscribe('secret', undefined, { connectionParams: { user: 'bob' } });
      await c.until(() => c.completed, 'completion', WAIT_MS);
      expect(c.errors).toEqual([]);
      expect(c.data).toEqual([{ user: 'bob', params: { user: 'bob' } }]);
      expect(new URL(requests[0]!.url).searchParams.get('connectionParams')).toBe(JSON.stringify({ user: 'bob' }));
    });

    test('an error thrown mid-stream with a non-retryable code reaches the subscriber typed, after the data', async () => {
      const { c } = subscribe('failing', { after: 2, code: 'FORBIDDEN' });
      const error = await c.untilError(WAIT_MS);
      expect(kit.isTRPCClientError(error)).toBe(true);
      expect(error.data?.code).toBe('FORBIDDEN');
      expect(error.message).toBe('failed with FORBIDDEN');
      expect(c.data).toEqual([0, 1]);
    });

    test('resumes after the server ends its streams: the EventSource reconnects with Last-Event-ID and nothing repeats', async () => {
      const { probe, feed } = setup;
      const firstStart = within(probe.next('started'), '`live` to start');
      const { c, requests } = subscribe('live', undefined);
      await firstStart;
      await c.until(() => c.started >= 1, 'the `connected` event', WAIT_MS);
      for (const id of ['a1', 'a2', 'a3']) feed.emit('item', { id, text: `text ${id}` });
      await c.untilData(3, WAIT_MS);

      const restart = within(probe.next('started'), '`live` to start again after the reconnect');
      server.core.closeAllStreams();
      // The procedure gets the resume id as tRPC hands it over: `input.lastEventId`.
      expect(await restart).toEqual({ lastEventId: 'a3' });
      expect(requests.length).toBe(2);
      expect(lastEventIdOf(requests[0]!)).toBeUndefined();
      expect(lastEventIdOf(requests[1]!)).toBe('a3');
      await c.until(() => c.started >= 2, 'the second `connected` event', WAIT_MS);

      for (const id of ['a4', 'a5']) feed.emit('item', { id, text: `text ${id}` });
      await c.untilData(5, WAIT_MS);
      expect((c.data as Array<Tracked<{ id: string; text: string }>>).map((d) => d.id)).toEqual([
        'a1',
        'a2',
        'a3',
        'a4',
        'a5',
      ]);
      expect((c.data as Array<Tracked<{ id: string; text: string }>>)[4]).toEqual({
        id: 'a5',
        data: { id: 'a5', text: 'text a5' },
      });
      expect(c.errors).toEqual([]);
      expect(c.completed).toBe(false);
    });
  });
});

describe.each(serverKinds)('a bare EventSource (no tRPC client) against our $name', (kind) => {
  let setup: TestSetup;
  let server: RunningServer;
  const sources: EventSource[] = [];

  beforeAll(async () => {
    setup = createTestRouter();
    server = await kind.start(setup.router);
  });
  afterEach(() => {
    for (const source of sources.splice(0)) source.close();
  });
  afterAll(() => server.close());

  function open(url: string, init = eventSourceInit()): EventSource {
    const source = new EventSource(url, init);
    sources.push(source);
    return source;
  }

  test('reads `connected`, message events with `lastEventId`, then `return`', async () => {
    const source = open(`${server.url}/counter${inputQuery({ count: 3 })}`);
    const seen: Array<{ type: string; data: string; lastEventId: string }> = [];
    const record = (event: MessageEvent): void => {
      seen.push({ type: event.type, data: String(event.data), lastEventId: event.lastEventId });
    };
    source.addEventListener('connected', record);
    source.addEventListener('message', record);
    await within(
      new Promise<void>((resolve) =>
        source.addEventListener('return', (event) => {
          // The stream is over: a browser app closes here, or the EventSource would reconnect.
          source.close();
          record(event);
          resolve();
        }),
      ),
      'the `return` event',
    );
    expect(seen.map((e) => e.type)).toEqual(['connected', 'message', 'message', 'message', 'return']);
    expect(JSON.parse(seen[0]!.data)).toEqual(expect.any(Object));
    expect(seen.slice(1, 4).map((e) => ({ id: e.lastEventId, data: JSON.parse(e.data) as unknown }))).toEqual([
      { id: '0', data: { n: 0 } },
      { id: '1', data: { n: 1 } },
      { id: '2', data: { n: 2 } },
    ]);
  });

  test('gets a failure as a `serialized-error` event carrying the tRPC error shape', async () => {
    const source = open(`${server.url}/counter${inputQuery({ count: 'three' })}`);
    const data = await within(
      new Promise<string>((resolve) =>
        source.addEventListener('serialized-error', (event) => {
          source.close();
          resolve(String(event.data));
        }),
      ),
      'the `serialized-error` event',
    );
    expect(JSON.parse(data)).toMatchObject({
      code: -32600,
      data: { code: 'BAD_REQUEST', httpStatus: 400, path: 'counter' },
    });
  });

  test('reconnects by itself when the server ends the stream, and the procedure resumes from Last-Event-ID', async () => {
    const { probe, feed } = setup;
    const requests: RecordedRequest[] = [];
    const firstStart = within(probe.next('started'), '`live` to start');
    const source = open(`${server.url}/live`, eventSourceInit({ requests }));
    const ids: string[] = [];
    source.addEventListener('message', (event) => ids.push(event.lastEventId));
    await firstStart;
    feed.emit('item', { id: 'b1', text: 'one' });
    feed.emit('item', { id: 'b2', text: 'two' });
    await untilCount(source, 'message', () => ids.length >= 2, 'two messages');

    const restart = within(probe.next('started'), '`live` to start again');
    server.core.closeAllStreams();
    expect(await restart).toEqual({ lastEventId: 'b2' });
    expect(lastEventIdOf(requests.at(-1)!)).toBe('b2');
    feed.emit('item', { id: 'b3', text: 'three' });
    await untilCount(source, 'message', () => ids.length >= 3, 'the third message');
    expect(ids).toEqual(['b1', 'b2', 'b3']);
  });

  test('receives `ping` events on an idle stream, and `connected` carries the inactivity hint', async () => {
    const pinging = await startNodeServer(setup.router, { heartbeatMs: 30, reconnectAfterInactivityMs: 1_000 });
    try {
      const source = open(`${pinging.url}/idle`);
      let connected: unknown;
      let pings = 0;
      source.addEventListener('connected', (event) => (connected = JSON.parse(String(event.data))));
      await within(
        new Promise<void>((resolve) =>
          source.addEventListener('ping', () => {
            if (++pings === 2) resolve();
          }),
        ),
        'two pings',
      );
      expect(connected).toEqual({ reconnectAfterInactivityMs: 1_000 });
      source.close();
    } finally {
      await pinging.close();
    }
  });
});

describe.each(serverKinds)('resume edge cases on our $name (raw GET with Last-Event-ID)', (kind) => {
  let setup: TestSetup;
  let server: RunningServer;

  beforeAll(async () => {
    setup = createTestRouter();
    server = await kind.start(setup.router);
  });
  afterAll(() => server.close());

  test.each([
    { path: 'strict', input: { room: 'r1' }, data: ['r1', 'r1'] },
    { path: 'voidInput', input: undefined, data: ['v'] },
    { path: 'primitive', input: 'p1', data: ['p1'] },
  ])('`$path` keeps working when a reconnect carries Last-Event-ID (no BAD_REQUEST)', async ({ path, input, data }) => {
    const started = within(setup.probe.next('started'), `\`${path}\` to start`);
    const { status, contentType, events } = await readWholeStream(`${server.url}/${path}${inputQuery(input)}`, {
      'last-event-id': '1',
    });
    // The procedure got the input the client sent: the resume id could not be merged into it.
    expect(await started).toEqual(input);
    expect(status).toBe(200);
    expect(contentType).toMatch(/^text\/event-stream/);
    expect(events.filter((e) => e.event === 'serialized-error')).toEqual([]);
    expect(events.map((e) => e.event ?? 'message')).toEqual(['connected', ...data.map(() => 'message'), 'return']);
    expect(events.filter((e) => e.event === undefined).map((e) => JSON.parse(e.data) as unknown)).toEqual(data);
  });

  test('a procedure that accepts `lastEventId` gets it from the Last-Event-ID header', async () => {
    const started = within(setup.probe.next('started'), '`counter` to start');
    const { events } = await readWholeStream(`${server.url}/counter${inputQuery({ count: 4 })}`, {
      'last-event-id': '1',
    });
    expect(await started).toEqual({ count: 4, intervalMs: 0, lastEventId: '1' });
    expect(events.filter((e) => e.event === undefined).map((e) => e.id)).toEqual(['2', '3']);
    expect(events.at(-1)?.event).toBe('return');
  });
});

describe.each(clientKits)(
  'stock httpSubscriptionLink of $name with superjson, against our node:http handler',
  (kit) => {
    let server: RunningServer;
    const subscriptions: Unsubscribable[] = [];

    beforeAll(async () => {
      server = await startNodeServer(createTestRouter({ transformer: true }).router);
    });
    afterEach(() => {
      for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
    });
    afterAll(() => server.close());

    function subscribe(path: string, input: unknown) {
      const client = kit.createTRPCUntypedClient<AnyTRPCRouter>({
        links: [
          kit.httpSubscriptionLink<AnyTRPCRouter, typeof EventSource>({
            url: server.url,
            EventSource,
            eventSourceOptions: eventSourceInit(),
            transformer: superjson,
          }),
        ],
      });
      const c = new Collector();
      subscriptions.push(client.subscription(path, input, c.handlers()));
      return c;
    }

    test('tracked ids survive the transformer', async () => {
      const c = subscribe('counter', { count: 2 });
      await c.until(() => c.completed, 'completion', WAIT_MS);
      expect(c.data).toEqual([
        { id: '0', data: { n: 0 } },
        { id: '1', data: { n: 1 } },
      ]);
    });

    test.each([
      { path: 'nope', input: undefined, code: 'NOT_FOUND', message: /nope/ },
      { path: 'counter', input: { count: 'three' }, code: 'BAD_REQUEST', message: /count/ },
    ])(
      'a failure on `$path` arrives as a typed $code error through the transformer',
      async ({ path, input, code, message }) => {
        const c = subscribe(path, input);
        const error = await c.untilError(WAIT_MS);
        expect(kit.isTRPCClientError(error)).toBe(true);
        expect(error.data?.code).toBe(code);
        expect(error.message).toMatch(message);
      },
    );

    test('a stock client unsubscribing stops our procedure', async () => {
      const setup = createTestRouter();
      const local = await startNodeServer(setup.router);
      try {
        const client = kit.createTRPCUntypedClient<AnyTRPCRouter>({
          links: [
            kit.httpSubscriptionLink<AnyTRPCRouter, typeof EventSource>({
              url: local.url,
              EventSource,
              eventSourceOptions: eventSourceInit(),
            }),
          ],
        });
        const c = new Collector();
        const started = within(setup.probe.next('started'), '`idle` to start');
        const finished = within(setup.probe.next('finished'), '`idle` to finish');
        const subscription = client.subscription('idle', undefined, c.handlers());
        await started;
        await c.untilData(1, WAIT_MS);
        subscription.unsubscribe();
        await finished;
        expect(local.core.openStreams).toBe(0);
      } finally {
        await local.close();
      }
    });
  },
);

/**
 * One router of the pinned release, served both by tRPC's own standalone adapter and by ours:
 * the events a client reads must be the same (only `connected`'s options and pings may differ).
 */
function createParityRouter(transformer: boolean) {
  const plain = () => initTRPC.create({ isDev: false });
  const t = transformer
    ? (initTRPC.create({ transformer: superjson, isDev: false }) as unknown as ReturnType<typeof plain>)
    : plain();
  return t.router({
    values: t.procedure.subscription(async function* () {
      yield tracked('1', { at: new Date(0), bytes: new Uint8Array([0, 7, 14]), text: 'line\nbreak "quoted" é' });
      yield { untracked: true, nothing: null };
      yield tracked('x:2', 42);
    }),
    failing: t.procedure.input(z.object({ after: z.number().int().max(10) })).subscription(async function* ({ input }) {
      for (let i = 0; i < input.after; i++) yield i;
      throw new TRPCError({ code: 'FORBIDDEN', message: 'not yours' });
    }),
    observed: t.procedure.subscription(() =>
      observable<string>((emit) => {
        emit.next('a');
        emit.next('b');
        emit.complete();
        return () => undefined;
      }),
    ),
  });
}

/** The events that carry the procedure's outcome (not `connected`, not pings), as the wire has them. */
function outcomeEvents(events: EventSourceMessage[]) {
  return events
    .filter((e) => e.event !== 'connected' && e.event !== 'ping')
    .map((e) => ({ event: e.event ?? 'message', id: e.id, data: e.data }));
}

describe.each([
  { name: 'plain JSON', transformer: false },
  { name: 'superjson', transformer: true },
])('wire parity with a stock tRPC server ($name)', ({ transformer }) => {
  let ours: RunningServer;
  let stock: StockServer;

  beforeAll(async () => {
    const router = createParityRouter(transformer);
    ours = await startNodeServer(router);
    stock = await startStockStandalone(pinnedServerKit, router as unknown as StockRouter);
  });
  afterAll(async () => {
    await ours.close();
    await stock.close();
  });

  const input = (value: unknown) => (transformer ? superjson.serialize(value) : value);

  test.each([
    { what: 'tracked and untracked values, then `return`', path: 'values', value: undefined },
    { what: 'an observable, then `return`', path: 'observed', value: undefined },
    { what: 'an error thrown mid-stream', path: 'failing', value: { after: 2 } },
    { what: 'bad input', path: 'failing', value: { after: 'two' } },
  ])('$what: the same events as tRPC’s own server', async ({ path, value }) => {
    const query = value === undefined ? '' : inputQuery(input(value));
    const [mine, theirs] = await Promise.all([
      readWholeStream(`${ours.url}/${path}${query}`),
      readWholeStream(`${stock.url}/${path}${query}`),
    ]);
    expect(mine.status).toBe(theirs.status);
    expect(mine.contentType).toBe(theirs.contentType);
    expect(mine.events[0]?.event).toBe('connected');
    expect(outcomeEvents(mine.events)).toEqual(outcomeEvents(theirs.events));
  });

  test.each(clientKits)('the stock client of $name reads our values as it reads the stock server’s', async (kit) => {
    const read = async (url: string) => {
      const linkOptions = { url, EventSource, eventSourceOptions: eventSourceInit() };
      const client = kit.createTRPCUntypedClient<AnyTRPCRouter>({
        links: [
          kit.httpSubscriptionLink<AnyTRPCRouter, typeof EventSource>(
            transformer ? { ...linkOptions, transformer: superjson } : linkOptions,
          ),
        ],
      });
      const c = new Collector();
      const subscription = client.subscription('values', undefined, c.handlers());
      try {
        await c.until(() => c.completed || c.errors.length > 0, 'completion', WAIT_MS);
      } finally {
        subscription.unsubscribe();
      }
      expect(c.errors).toEqual([]);
      return c.data;
    };
    const [mine, theirs] = [await read(ours.url), await read(stock.url)];
    expect(mine).toEqual(theirs);
    if (transformer) {
      // superjson carries these; the stock client revives them from our stream too.
      const first = (mine[0] as Tracked<{ at: unknown; bytes: unknown }>).data;
      expect(first.at).toEqual(new Date(0));
      expect(first.bytes).toEqual(new Uint8Array([0, 7, 14]));
    }
  });
});
