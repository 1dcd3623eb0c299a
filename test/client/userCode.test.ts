/**
 * Application code the client calls — `onError`, `onOpen`, `onClose`, `onReset`,
 * `shouldRetry`, `url`, `headers`, `connectionParams` — may throw, reject or never settle.
 * None of it may break the reconnect loop, skip its backoff, leave a rejection unheard (vitest
 * fails a run on an unhandled rejection) or wedge a subscription.
 */
import { createTRPCClient } from '@trpc/client';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createSSEClient, sseLink, type CreateSSEClientOptions } from '../../src/client/index.js';
import { settleUserValue, USER_FUNCTION_TIMEOUT_MS } from '../../src/client/userCode.js';
import type { TestClientError } from '../helpers/clientError.js';
import { Collector } from '../helpers/collector.js';
import { createTestRouter, type TestRouter } from '../helpers/router.js';
import { startNodeServer, type RunningServer } from '../helpers/servers.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** The backoff floor of these clients: every retry waits at least this long. */
const FLOOR_MS = 25;
const RETRY = { minDelayMs: FLOOR_MS, maxDelayMs: FLOOR_MS };

/**
 * Our server behind a fetch that fails (as a network does) while `broken` is set, recording
 * when each request left. Silences the guards' console reports.
 */
async function setup() {
  const fixture = createTestRouter();
  const server: RunningServer = await startNodeServer(fixture.router);
  cleanup.push(() => server.close());
  const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  cleanup.push(() => consoleError.mockRestore());
  const state = { broken: true, streamRequestTimes: [] as number[] };
  const fetch: typeof globalThis.fetch = (url, init) => {
    if (init?.method !== 'POST') state.streamRequestTimes.push(performance.now());
    return state.broken ? Promise.reject(new TypeError('fetch failed')) : globalThis.fetch(url, init);
  };
  return { ...fixture, server, state, fetch, consoleError };
}

function connect(url: string, opts: Partial<CreateSSEClientOptions>) {
  const sse = createSSEClient({ url, retry: RETRY, ...opts });
  cleanup.push(() => sse.close());
  return { sse, trpc: createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] }) };
}

/** Every gap between consecutive attempts is at least the backoff floor (a lower bound only). */
function expectBackoffBetween(times: number[]): void {
  for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(FLOOR_MS - 2);
}

const MODES = ['multiplexed', 'distinct'] as const;

describe.each(MODES)('%s', (mode) => {
  test.each([
    [
      'throws',
      () => {
        throw new Error('app bug in onError');
      },
    ],
    ['rejects', () => Promise.reject(new Error('async app bug in onError'))],
  ] as const)(
    'an onError that %s: the loop keeps its backoff, and resumes once the network is back',
    async (_how, onError) => {
      const { server, state, fetch, consoleError } = await setup();
      const calls = vi.fn(onError);
      // eslint-disable-next-line @typescript-eslint/no-misused-promises -- an onError that rejects is the case under test
      const { trpc } = connect(server.url, { mode, fetch, onError: calls });
      const c = new Collector<{ id: string; data: { n: number } }>();
      trpc.counter.subscribe({ count: 3 }, c.handlers());
      await vi.waitFor(() => expect(calls.mock.calls.length).toBeGreaterThanOrEqual(4), { timeout: 10_000 });
      expectBackoffBetween(state.streamRequestTimes);
      // One attempt per reported failure: no storm of attempts around the throwing callback.
      expect(state.streamRequestTimes.length).toBeLessThanOrEqual(calls.mock.calls.length + 1);
      await vi.waitFor(() => expect(consoleError).toHaveBeenCalled(), { timeout: 10_000 });
      state.broken = false;
      await c.until(() => c.completed, 'completion once the network is back', 10_000);
      expect(c.data.map((d) => d.id)).toEqual(['0', '1', '2']);
      expect(c.errors).toEqual([]);
    },
  );

  test('onOpen and onClose that throw change nothing', async () => {
    const { server, state, fetch } = await setup();
    state.broken = false;
    const boom = (): never => {
      throw new Error('app bug');
    };
    const onOpen = vi.fn(boom);
    const onClose = vi.fn(boom);
    const { trpc } = connect(server.url, { mode, fetch, onOpen, onClose });
    const c = new Collector<{ id: string; data: { n: number } }>();
    trpc.counter.subscribe({ count: 3 }, c.handlers());
    await c.until(() => c.completed, 'completion');
    expect(c.data.map((d) => d.id)).toEqual(['0', '1', '2']);
    expect(onOpen).toHaveBeenCalled();
    // Cut every stream: the client reconnects through onClose and onOpen again.
    const d = new Collector<string>();
    trpc.idle.subscribe(undefined, d.handlers());
    await d.untilData(1);
    const opened = onOpen.mock.calls.length;
    server.core.closeAllStreams();
    await vi.waitFor(() => expect(onOpen.mock.calls.length).toBeGreaterThan(opened), { timeout: 10_000 });
    expect(onClose).toHaveBeenCalled();
    expect(d.errors).toEqual([]);
  });

  test('a shouldRetry that throws is reported, and the default policy decides', async () => {
    const { server, state, fetch, consoleError } = await setup();
    const shouldRetry = vi.fn((): boolean => {
      throw new Error('app bug in shouldRetry');
    });
    const { trpc } = connect(server.url, { mode, fetch, retry: { ...RETRY, shouldRetry } });
    const c = new Collector<{ id: string; data: { n: number } }>();
    trpc.counter.subscribe({ count: 2 }, c.handlers());
    await vi.waitFor(() => expect(shouldRetry.mock.calls.length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    expect(consoleError).toHaveBeenCalled();
    expectBackoffBetween(state.streamRequestTimes);
    // The default retries a network failure: the subscription is still alive.
    state.broken = false;
    await c.until(() => c.completed, 'completion', 10_000);
    expect(c.data.map((d) => d.id)).toEqual(['0', '1']);
  });

  test.each(['url', 'headers', 'connectionParams'] as const)(
    'a %s function that throws, then rejects, fails those attempts (reported to onError) and is called again after the backoff',
    async (option) => {
      const { server, state, fetch } = await setup();
      state.broken = false;
      let calls = 0;
      const values = {
        url: server.url,
        headers: { authorization: 'Bearer alice' },
        connectionParams: { room: 'lobby' },
      };
      const fn = () => {
        calls++;
        if (calls === 1) throw new Error(`${option} threw`);
        if (calls === 2) return Promise.reject(new Error(`${option} rejected`));
        return values[option];
      };
      const onError = vi.fn();
      const { trpc } = connect(server.url, { mode, fetch, onError, [option]: fn });
      const c = new Collector<{ id: string; data: { n: number } }>();
      trpc.counter.subscribe({ count: 2 }, c.handlers());
      await c.until(() => c.completed, 'completion', 10_000);
      expect(c.data.map((d) => d.id)).toEqual(['0', '1']);
      expect(onError.mock.calls.map(([error]) => (error as Error).message)).toEqual([
        expect.stringContaining(`${option} failed: ${option} threw`),
        expect.stringContaining(`${option} failed: ${option} rejected`),
      ]);
    },
  );

  test('a headers function that never settles does not wedge anything: unsubscribe and close still end the subscription', async () => {
    const { server, state, fetch } = await setup();
    state.broken = false;
    const { sse, trpc } = connect(server.url, {
      mode,
      fetch,
      headers: () => new Promise<Record<string, string>>(() => undefined),
    });
    const c = new Collector();
    const subscription = trpc.idle.subscribe(undefined, c.handlers());
    await vi.waitFor(() => expect(sse.connectionState.get().state).toBe('connecting'), { timeout: 10_000 });
    subscription.unsubscribe();
    const other = new Collector();
    trpc.idle.subscribe(undefined, other.handlers());
    sse.close();
    await other.until(() => other.completed, 'completion on close');
    expect(state.streamRequestTimes).toEqual([]);
    expect(server.core.openStreams).toBe(0);
  });

  test('an onReset that throws: the subscription carries on from the reset position', async () => {
    const withLog = await setupWithLog();
    const { server, fetch, log } = withLog;
    const onReset = vi.fn(() => {
      throw new Error('app bug in onReset');
    });
    const sse = createSSEClient({ url: server.url, retry: RETRY, mode, fetch, onReset });
    cleanup.push(() => sse.close());
    const trpc = createTRPCClient<typeof withLog.router>({ links: [sseLink({ client: sse })] });
    const c = new Collector<{ id: string; data?: unknown }>();
    // An id the log never issued: the server answers with a reset, then the live events.
    trpc.feed.subscribe({ topic: 'news', lastEventId: 'not-an-id' }, c.handlers());
    await vi.waitFor(() => expect(onReset).toHaveBeenCalledTimes(1), { timeout: 10_000 });
    await log.publish('news', 'after');
    await c.untilData(1);
    expect(c.data.map((d) => d.data)).toEqual(['after']);
    expect(c.errors).toEqual([]);
  });
});

/** {@link setup} with a server whose router has an event-log subscription (`feed`). */
async function setupWithLog() {
  const { createMemoryEventLog } = await import('../../src/log/memoryEventLog.js');
  const { initTRPC } = await import('@trpc/server');
  const { z } = await import('zod');
  const log = createMemoryEventLog();
  const t = initTRPC.create();
  const router = t.router({
    feed: t.procedure
      .input(z.object({ topic: z.string(), lastEventId: z.string().nullish() }))
      .subscription(({ input, signal }) =>
        log.subscribe(input.topic, { lastEventId: input.lastEventId ?? null, signal }),
      ),
  });
  const server = await startNodeServer(router);
  cleanup.push(() => server.close());
  const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  cleanup.push(() => consoleError.mockRestore());
  return { server, fetch: globalThis.fetch, log, router };
}

describe('settleUserValue', () => {
  test('a promise that never settles fails with TIMEOUT after the bound, and the client can try again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    cleanup.push(() => vi.useRealTimers());
    const settled = settleUserValue('headers', () => new Promise<never>(() => undefined), new AbortController().signal);
    const outcome = settled.then(
      () => 'resolved',
      (error: unknown) => {
        const { data, message } = error as TestClientError;
        return `${data?.code}: ${message}`;
      },
    );
    await vi.advanceTimersByTimeAsync(USER_FUNCTION_TIMEOUT_MS);
    expect(await outcome).toBe(`TIMEOUT: trpc-sse: headers did not settle within ${USER_FUNCTION_TIMEOUT_MS} ms`);
  });

  test('an abort ends the wait at once with null', async () => {
    const abort = new AbortController();
    const settled = settleUserValue('url', () => new Promise<string>(() => undefined), abort.signal);
    abort.abort();
    expect(await settled).toBeNull();
  });
});

describe('per-call retry, through the operation’s context', () => {
  test.each(MODES)(
    '%s: context.retry false fails that subscription on its first failure; another subscription keeps retrying',
    async (mode) => {
      const { server, state, fetch } = await setup();
      const { trpc } = connect(server.url, { mode, fetch });
      const once = new Collector();
      trpc.idle.subscribe(undefined, { ...once.handlers(), context: { retry: false } });
      const patient = new Collector<{ id: string; data: { n: number } }>();
      trpc.counter.subscribe({ count: 1 }, patient.handlers());
      const error = await once.untilError();
      expect(error.message).toMatch(/fetch failed/);
      state.broken = false;
      await patient.until(() => patient.completed, 'the other subscription to complete after retrying', 10_000);
      expect(once.errors).toHaveLength(1);
    },
  );

  test('context.retry as a function decides for that subscription alone', async () => {
    const { server, state, fetch } = await setup();
    const { trpc } = connect(server.url, { mode: 'distinct', fetch });
    const decide = vi.fn(({ attempt }: { attempt: number }) => attempt < 3);
    const c = new Collector();
    trpc.idle.subscribe(undefined, { ...c.handlers(), context: { retry: decide } });
    await c.untilError(10_000);
    expect(decide.mock.calls.map(([ctx]) => ctx.attempt)).toEqual([1, 2, 3]);
    expect(state.streamRequestTimes).toHaveLength(3);
  });
});
