/**
 * The drop-in promise, tested as an app would: ONE app-level subscription suite, written for
 * an app that used tRPC's `wsLink`, runs twice —
 *
 *  (a) `wsLink` + `createWSClient` against tRPC's own WebSocket server (`applyWSSHandler` on a
 *      `ws` WebSocketServer), queries and mutations on tRPC's standalone HTTP handler;
 *  (b) `sseLink` + `createSSEClient` against our node handler (everything at /trpc).
 *
 * Both serve the identical router (built below, its context read from
 * `info.connectionParams`). The arms differ only in how the subscription link and its client
 * are constructed and in the server; every test body is shared.
 */
import { createServer } from 'node:http';
import { EventEmitter, on } from 'node:events';
import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  splitLink,
  TRPCClientError,
  wsLink,
  type TRPCLink,
} from '@trpc/client';
import type { TRPCConnectionState } from '@trpc/client/unstable-internals';
import { initTRPC, tracked, TRPCError, type AnyTRPCRouter } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import type { TRPCRequestInfo } from '@trpc/server/http';
import type { Observable } from '@trpc/server/observable';
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { createSSEClient, sseLink } from '../../src/client/index.js';
import { Collector, expectTrackedCounterCompleted } from '../helpers/collector.js';
import { closeServer, listen, startNodeServer } from '../helpers/servers.js';

// ---------------------------------------------------------------------------------------------
// Awaiting conditions without sleeping
// ---------------------------------------------------------------------------------------------

/** Re-checks waiting conditions whenever `changed()` is called. */
class Watch {
  readonly #waiters = new Set<{ check: () => boolean; resolve: () => void }>();

  changed(): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.check()) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`Timed out waiting for ${what}`));
      }, timeoutMs);
      const waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.#waiters.add(waiter);
    });
  }
}

/** What the server saw: procedures started and finished (their `finally` ran), and their inputs. */
class ServerLog extends Watch {
  readonly started = new Map<string, number>();
  readonly finished = new Map<string, number>();
  readonly inputs = new Map<string, unknown[]>();

  start(name: string, input: unknown): void {
    this.started.set(name, (this.started.get(name) ?? 0) + 1);
    this.inputs.set(name, [...(this.inputs.get(name) ?? []), input]);
    this.changed();
  }

  finish(name: string): void {
    this.finished.set(name, (this.finished.get(name) ?? 0) + 1);
    this.changed();
  }

  startedCount(name: string): number {
    return this.started.get(name) ?? 0;
  }

  finishedCount(name: string): number {
    return this.finished.get(name) ?? 0;
  }
}

// ---------------------------------------------------------------------------------------------
// The app's router: the same for both servers
// ---------------------------------------------------------------------------------------------

interface AppContext {
  connectionParams: TRPCRequestInfo['connectionParams'];
}

/** The createContext both servers use: auth comes in through `info.connectionParams`. */
function createContext({ info }: { info: TRPCRequestInfo }): AppContext {
  return { connectionParams: info.connectionParams };
}

function createAppRouter() {
  const t = initTRPC.context<AppContext>().create();
  const log = new ServerLog();
  const journal: string[] = [];
  const appended = new EventEmitter();
  appended.setMaxListeners(0);
  /** Appends to the journal; live subscribers hear of it. */
  const append = (text: string): void => {
    journal.push(text);
    appended.emit('appended', journal.length - 1);
  };

  const authed = t.procedure.use(({ ctx, next }) => {
    const token = ctx.connectionParams?.['token'];
    if (!token) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Sign in first' });
    return next({ ctx: { ...ctx, user: token } });
  });

  const router = t.router({
    greeting: t.procedure.input(z.object({ name: z.string() })).query(({ input }) => `hello ${input.name}`),
    add: t.procedure.input(z.object({ a: z.number(), b: z.number() })).mutation(({ input }) => input.a + input.b),

    /** `count` tracked values, then the procedure returns. */
    numbers: t.procedure.input(z.object({ count: z.number().int().max(100) })).subscription(async function* ({
      input,
    }) {
      log.start('numbers', input);
      try {
        for (let i = 0; i < input.count; i++) yield tracked(String(i), { n: i });
      } finally {
        log.finish('numbers');
      }
    }),

    /** One value, then a non-retryable failure. */
    forbidden: t.procedure.subscription(async function* () {
      log.start('forbidden', undefined);
      yield tracked('0', 'first');
      throw new TRPCError({ code: 'FORBIDDEN', message: 'Not for you' });
    }),

    /** Who the connection is: needs a `token` connection param. */
    me: authed.subscription(async function* ({ ctx }) {
      yield { user: ctx.user, connectionParams: ctx.connectionParams };
    }),

    /** Says it is ready, then runs until the client leaves. */
    waiting: t.procedure.subscription(async function* ({ signal }) {
      log.start('waiting', undefined);
      try {
        yield 'ready';
        await new Promise<void>((resolve) => {
          if (signal?.aborted) resolve();
          signal?.addEventListener('abort', () => resolve(), { once: true });
        });
      } finally {
        log.finish('waiting');
      }
    }),

    /** Every journal entry after `lastEventId`, then live ones: a resumable procedure. */
    journal: t.procedure
      .input(z.object({ lastEventId: z.string().nullish() }).optional())
      .subscription(async function* ({ input, signal }) {
        log.start('journal', input);
        try {
          // Listen before reading history, so nothing appended in between is missed.
          const live = on(appended, 'appended', signal ? { signal } : {});
          let next = input?.lastEventId != null ? Number(input.lastEventId) + 1 : 0;
          while (next < journal.length) {
            yield tracked(String(next), journal[next]!);
            next++;
          }
          for await (const [index] of live) {
            if ((index as number) < next) continue;
            yield tracked(String(index), journal[index as number]!);
            next = (index as number) + 1;
          }
        } finally {
          log.finish('journal');
        }
      }),
  });
  return { router, log, append };
}

type AppRouter = ReturnType<typeof createAppRouter>['router'];

// ---------------------------------------------------------------------------------------------
// The two arms: link/client construction and the server, nothing else
// ---------------------------------------------------------------------------------------------

interface AppServer {
  /** Where httpBatchLink sends queries and mutations. */
  httpUrl: string;
  /** Where the subscription client connects. */
  subscriptionUrl: string;
  /** The server drops every subscription connection it holds (clients should come back). */
  dropAll(): void;
  /**
   * The server asks every client to move to a new connection (a deploy): tRPC's
   * `broadcastReconnectNotification()`, trpc-sse's `core.drain()`.
   */
  askToReconnect(): void;
  close(): Promise<void>;
}

/** What the app uses of `createWSClient`'s / `createSSEClient`'s client. */
interface SubscriptionClient {
  readonly connectionState: Observable<TRPCConnectionState<TRPCClientError<AnyTRPCRouter>>, never>;
  close(): void | Promise<void>;
}

interface Arm {
  name: string;
  /**
   * Every subscription of a client rides one connection (wsLink, multiplexed), rather than
   * each its own stream (httpSubscriptionLink's model, distinct mode).
   */
  sharedConnection: boolean;
  serve(router: AppRouter): Promise<AppServer>;
  connect(
    server: AppServer,
    opts: { connectionParams?: Record<string, string> },
  ): {
    client: SubscriptionClient;
    link: TRPCLink<AppRouter>;
  };
}

const wsArm: Arm = {
  name: 'wsLink + createWSClient, tRPC WebSocket server',
  sharedConnection: true,
  async serve(router) {
    const http = createServer(createHTTPHandler({ router, createContext, basePath: '/trpc/' }));
    const wss = new WebSocketServer({ server: http });
    const handler = applyWSSHandler({ wss, router, createContext });
    const port = await listen(http);
    const dropAll = (): void => {
      for (const socket of wss.clients) socket.terminate();
    };
    return {
      httpUrl: `http://127.0.0.1:${port}/trpc`,
      subscriptionUrl: `ws://127.0.0.1:${port}`,
      dropAll,
      askToReconnect: () => handler.broadcastReconnectNotification(),
      close: async () => {
        dropAll();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        await closeServer(http);
      },
    };
  },
  connect(server, { connectionParams }) {
    const client = createWSClient({
      url: server.subscriptionUrl,
      // Node 20 has no global WebSocket.
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      retryDelayMs: () => 10,
      ...(connectionParams ? { connectionParams } : {}),
    });
    return { client, link: wsLink<AppRouter>({ client }) };
  },
};

/** `auto` (the default, which settles on multiplexed against this server) or `distinct`. */
function sseArmFor(mode: 'auto' | 'distinct'): Arm {
  return {
    name:
      mode === 'auto'
        ? 'sseLink + createSSEClient, trpc-sse node server'
        : 'sseLink + createSSEClient (distinct mode), trpc-sse node server',
    sharedConnection: mode === 'auto',
    async serve(router) {
      const server = await startNodeServer(router, { createContext });
      return {
        httpUrl: server.url,
        subscriptionUrl: server.url,
        dropAll: () => server.core.closeAllStreams(),
        askToReconnect: () => server.core.drain({ withinMs: 0 }),
        close: () => server.close(),
      };
    },
    connect(server, { connectionParams }) {
      const client = createSSEClient({
        url: server.subscriptionUrl,
        ...(mode === 'distinct' ? { mode } : {}),
        retry: { minDelayMs: 5, maxDelayMs: 20 },
        // createWSClient connects at creation; createSSEClient waits for a subscription unless told.
        lazy: { enabled: false },
        ...(connectionParams ? { connectionParams } : {}),
      });
      return { client, link: sseLink<AppRouter>({ client }) };
    },
  };
}

const sseArm = sseArmFor('auto');

/**
 * Whether the wsLink under test keeps a server-asked reconnect from its subscribers (no
 * second `started`): the releases after 11.19 do; 11.19.0 (the pinned one) does not.
 */
const wsLinkMovesQuietly = process.env['EXPECTED_TRPC_VERSION'] !== '11.19.0';
const sseDistinctArm = sseArmFor('distinct');

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** The app, its server and its tRPC client, built with `arm`. */
async function startAppWith(arm: Arm, opts: { connectionParams?: Record<string, string> } = {}) {
  const fixture = createAppRouter();
  const server = await arm.serve(fixture.router);
  cleanup.push(() => server.close());
  const { client, link } = arm.connect(server, opts);
  cleanup.push(() => client.close());
  const trpc = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: link,
        false: httpBatchLink({ url: server.httpUrl }),
      }),
    ],
  });
  return { ...fixture, server, client, trpc };
}

/** Records the client's `connectionState`. */
function watchConnection(client: SubscriptionClient) {
  const states = new Collector();
  const handlers = states.handlers();
  const sub = client.connectionState.subscribe({ next: (s) => handlers.onConnectionStateChange(s) });
  cleanup.push(() => sub.unsubscribe());
  return states;
}

describe.each([wsArm, sseArm])('app subscriptions: $name', (arm) => {
  const startApp = (opts: { connectionParams?: Record<string, string> } = {}) => startAppWith(arm, opts);

  /** Once the client is connected, the server drops every connection; returns where the client's later states start. */
  async function dropAll(server: AppServer, states: Collector): Promise<number> {
    await states.until(() => states.states.at(-1)?.state === 'pending', 'pending');
    const from = states.states.length;
    server.dropAll();
    return from;
  }

  /** The client noticed the drop: it is reconnecting. */
  function untilReconnecting(states: Collector, from: number): Promise<void> {
    return states.until(() => states.states.slice(from).some((s) => s.state === 'connecting'), 'connecting');
  }

  /** The client is connected again. */
  function untilBack(states: Collector, from: number): Promise<void> {
    return states.until(() => {
      const after = states.states.slice(from);
      const connecting = after.findIndex((s) => s.state === 'connecting');
      return connecting >= 0 && after.slice(connecting).some((s) => s.state === 'pending');
    }, 'connecting, then pending again');
  }

  test('tracked events arrive as { id, data }; the end arrives as onStopped and onComplete', async () => {
    const { trpc } = await startApp();
    const c = new Collector<{ id: string; data: { n: number } }>();
    trpc.numbers.subscribe({ count: 3 }, c.handlers());
    await c.until(() => c.completed, 'completion');
    expectTrackedCounterCompleted(c, 3);
  });

  test('a procedure throwing FORBIDDEN fails the subscription with a typed error', async () => {
    const { trpc, log } = await startApp();
    const c = new Collector<{ id: string; data: string }>();
    trpc.forbidden.subscribe(undefined, c.handlers());
    const error = await c.untilError();
    expect(error).toBeInstanceOf(TRPCClientError);
    expect(error.data?.code).toBe('FORBIDDEN');
    expect(error.data?.httpStatus).toBe(403);
    expect(error.message).toBe('Not for you');
    expect(c.data).toEqual([{ id: '0', data: 'first' }]);
    expect(c.completed).toBe(false);
    expect(log.startedCount('forbidden')).toBe(1);
  });

  test('connectionParams reach createContext as info.connectionParams', async () => {
    const { trpc } = await startApp({ connectionParams: { token: 'alice' } });
    const c = new Collector<{ user: string; connectionParams: AppContext['connectionParams'] }>();
    trpc.me.subscribe(undefined, c.handlers());
    await c.until(() => c.completed, 'completion');
    expect(c.data).toEqual([{ user: 'alice', connectionParams: { token: 'alice' } }]);
  });

  test('without connectionParams the authed procedure fails with UNAUTHORIZED', async () => {
    const { trpc } = await startApp();
    const c = new Collector();
    trpc.me.subscribe(undefined, c.handlers());
    const error = await c.untilError();
    expect(error).toBeInstanceOf(TRPCClientError);
    expect(error.data?.code).toBe('UNAUTHORIZED');
    expect(error.message).toBe('Sign in first');
  });

  test('unsubscribing stops the procedure: its finally runs', async () => {
    const { trpc, log } = await startApp();
    const c = new Collector<string>();
    const subscription = trpc.waiting.subscribe(undefined, c.handlers());
    await c.untilData(1);
    expect(c.data).toEqual(['ready']);
    expect(log.finishedCount('waiting')).toBe(0);
    subscription.unsubscribe();
    await log.until(() => log.finishedCount('waiting') === 1, 'the procedure’s finally');
    expect(log.startedCount('waiting')).toBe(1);
    expect(c.errors).toEqual([]);
  });

  test('connectionState reports pending once connected, on the client and to the subscription', async () => {
    const { client, trpc } = await startApp();
    const states = watchConnection(client);
    await states.until(() => states.states.some((s) => s.state === 'pending'), 'pending');
    const c = new Collector<string>();
    trpc.waiting.subscribe(undefined, c.handlers());
    await c.untilData(1);
    await c.until(() => c.states.at(-1)?.state === 'pending', 'pending on the subscription');
    expect(states.states.at(-1)).toEqual({ state: 'pending', error: null });
  });

  test('queries and mutations go through httpBatchLink, beside a live subscription', async () => {
    const { trpc } = await startApp({ connectionParams: { token: 'alice' } });
    const c = new Collector<string>();
    trpc.waiting.subscribe(undefined, c.handlers());
    await c.untilData(1);
    const [greeting, sum] = await Promise.all([trpc.greeting.query({ name: 'bob' }), trpc.add.mutate({ a: 2, b: 3 })]);
    expect(greeting).toBe('hello bob');
    expect(sum).toBe(5);
    expect(await trpc.greeting.query({ name: 'carol' })).toBe('hello carol');
    expect(c.errors).toEqual([]);
  });

  test('client.close() completes the subscriptions and the server stops their procedures', async () => {
    const { client, trpc, log } = await startApp();
    const states = watchConnection(client);
    const first = new Collector<string>();
    const second = new Collector<string>();
    trpc.waiting.subscribe(undefined, first.handlers());
    trpc.waiting.subscribe(undefined, second.handlers());
    await first.untilData(1);
    await second.untilData(1);
    await client.close();
    await first.until(() => first.completed, 'completion of the first');
    await second.until(() => second.completed, 'completion of the second');
    expect(first.errors).toEqual([]);
    expect(second.errors).toEqual([]);
    await log.until(() => log.finishedCount('waiting') === 2, 'both procedures’ finally');
    await states.until(() => states.states.at(-1)?.state === 'idle', 'idle');
  });

  test('after the server drops every connection, it reconnects and resumes from the last tracked id, no duplicate', async () => {
    const { client, trpc, log, append, server } = await startApp();
    const states = watchConnection(client);
    const c = new Collector<{ id: string; data: string }>();
    trpc.journal.subscribe(undefined, c.handlers());
    await log.until(() => log.startedCount('journal') === 1, 'the procedure');
    append('a');
    append('b');
    await c.untilData(2);

    const from = await dropAll(server, states);
    append('c'); // while the client is away
    await untilBack(states, from);
    await c.untilData(3);
    append('d');
    await c.untilData(4);
    append('e');
    await c.untilData(5);

    expect(c.data).toEqual([
      { id: '0', data: 'a' },
      { id: '1', data: 'b' },
      { id: '2', data: 'c' },
      { id: '3', data: 'd' },
      { id: '4', data: 'e' },
    ]);
    expect(c.errors).toEqual([]);
    expect(c.completed).toBe(false);
    // Whenever the procedure ran again, it was handed the last id the client had.
    const inputs = log.inputs.get('journal') ?? [];
    expect(inputs[0]).toBeUndefined();
    for (const input of inputs.slice(1)) expect(input).toEqual({ lastEventId: '1' });
  });

  test('unsubscribing while the client is reconnecting leaves no procedure running', async () => {
    const { client, trpc, server, log } = await startApp();
    const states = watchConnection(client);
    const c = new Collector<string>();
    const subscription = trpc.waiting.subscribe(undefined, c.handlers());
    await c.untilData(1);
    const from = await dropAll(server, states);
    await untilReconnecting(states, from);
    subscription.unsubscribe();
    await untilBack(states, from);
    // Something else round-trips on the subscription connection after it came back.
    const other = new Collector<{ id: string; data: { n: number } }>();
    trpc.numbers.subscribe({ count: 1 }, other.handlers());
    await other.until(() => other.completed, 'completion of another subscription');
    await log.until(
      () => log.finishedCount('waiting') === log.startedCount('waiting'),
      'every started "waiting" procedure to have run its finally',
    );
    expect(c.data).toEqual(['ready']);
    expect(c.errors).toEqual([]);
  });
});

/**
 * Details an app (or React Query's `useSubscription`) relies on, with sseLink in both modes:
 * distinct mode is held to httpSubscriptionLink's behaviour where one stream per subscription
 * differs from one shared connection (`arm.sharedConnection`).
 */
describe.each([wsArm, sseArm, sseDistinctArm])('drop-in details: $name', (arm) => {
  const startApp = () => startAppWith(arm);

  test('unsubscribe() completes the subscription (onComplete), with no onStopped or error', async () => {
    const { trpc, log } = await startApp();
    const c = new Collector<string>();
    const subscription = trpc.waiting.subscribe(undefined, c.handlers());
    await c.untilData(1);
    expect(c.completed).toBe(false);
    subscription.unsubscribe();
    // Both tRPC links complete synchronously, in the teardown.
    expect(c.completed).toBe(true);
    expect(c.stopped).toBe(0);
    expect(c.errors).toEqual([]);
    await log.until(() => log.finishedCount('waiting') === 1, 'the procedure’s finally');
    // Unsubscribing again is a no-op.
    subscription.unsubscribe();
    expect(c.errors).toEqual([]);
  });

  test('a subscription made on an open connection goes straight to pending; one stream per subscription connects first', async () => {
    const { client, trpc } = await startApp();
    const first = new Collector<string>();
    trpc.waiting.subscribe(undefined, first.handlers());
    await first.untilData(1);
    const states = watchConnection(client);
    await states.until(() => states.states.at(-1)?.state === 'pending', 'pending');

    const c = new Collector<string>();
    trpc.waiting.subscribe(undefined, c.handlers());
    await c.untilData(1);
    // React Query's useSubscription shows `connecting` for any `connecting` state: on a shared
    // connection that is already open a new subscription must not report one (tRPC #6962).
    expect(c.states.map((s) => s.state)).toEqual(arm.sharedConnection ? ['pending'] : ['connecting', 'pending']);
    expect(c.started).toBe(1);
    expect(c.errors).toEqual([]);
  });

  // A server-asked move (tRPC's reconnect notification, trpc-sse's drain) on a shared
  // connection is kept from the subscriber: no second `started`, no `connecting` (wsLink does
  // so since the releases after 11.19; 11.19's wsLink still reports `started` again, and its
  // reconnect even repeats a few times, so with it the control is held only to "again").
  // httpSubscriptionLink reports `started` for every stream it opens, as distinct mode does.
  // (tRPC's own reconnect-notification test passes `onStarted: onStartedMock()`, a call rather
  // than the mock, so its "called once" does not check `started`.)
  test('a server-asked reconnect moves the subscription: onStarted again only with a stream per subscription, nothing lost or repeated', async () => {
    const { trpc, log, append, server } = await startApp();
    const c = new Collector<{ id: string; data: string }>();
    trpc.journal.subscribe(undefined, c.handlers());
    await log.until(() => log.startedCount('journal') === 1, 'the procedure');
    append('a');
    await c.untilData(1);
    expect(c.started).toBe(1);
    const statesBefore = c.states.length;

    server.askToReconnect();
    // The procedure runs again on the new connection (or stream), from the last id.
    await log.until(() => log.startedCount('journal') >= 2, 'the procedure on the new connection');
    const startedAgain = arm === wsArm ? !wsLinkMovesQuietly : !arm.sharedConnection;
    if (startedAgain)
      await c.until(() => c.started >= 2 && c.states.at(-1)?.state === 'pending', 'started again, pending');
    append('b');
    await c.untilData(2);
    append('c');
    await c.untilData(3);

    expect(c.data).toEqual([
      { id: '0', data: 'a' },
      { id: '1', data: 'b' },
      { id: '2', data: 'c' },
    ]);
    expect(log.inputs.get('journal')?.[1]).toEqual({ lastEventId: '0' });
    if (arm === wsArm && !wsLinkMovesQuietly) expect(c.started).toBeGreaterThanOrEqual(2);
    else expect(c.started).toBe(startedAgain ? 2 : 1);
    // Kept from the subscriber: not even a state change.
    if (!startedAgain) expect(c.states.slice(statesBefore)).toEqual([]);
    expect(c.stopped).toBe(0);
    expect(c.errors).toEqual([]);
    expect(c.completed).toBe(false);
  });
});
