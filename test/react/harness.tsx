/**
 * Shared pieces of the React hook tests (`@trpc/react-query` and `@trpc/tanstack-react-query`):
 * a server with the test router, a shared SSE client with a short backoff, a tRPC client on
 * `sseLink`, and a recorder of what a `useSubscription` reports.
 */
import { QueryClient } from '@tanstack/react-query';
import { render, waitFor, type RenderResult } from '@testing-library/react';
import { createTRPCClient, type TRPCClient } from '@trpc/client';
import { useEffect, type ComponentType, type ReactNode } from 'react';
import { afterEach, describe, expect, test } from 'vitest';
import { createSSEClient, sseLink, type FetchLike, type SSEClient } from '../../src/client/index.js';
import { createTestRouter, type Probe, type TestRouter } from '../helpers/router.js';
import { startNodeServer, type RunningServer } from '../helpers/servers.js';

/** Reconnect quickly: the tests drop streams on purpose. */
export const FAST_RETRY = { minDelayMs: 10, maxDelayMs: 50 } as const;

export interface Harness {
  server: RunningServer;
  probe: Probe;
  /** `feed.emit('item', { id, text })` feeds the `live` procedure. */
  feed: ReturnType<typeof createTestRouter>['feed'];
  sse: SSEClient;
  client: TRPCClient<TestRouter>;
  queryClient: QueryClient;
  /** Stream requests the client has made so far (one per connection attempt). */
  readonly fetchCalls: number;
  /** Closes the SSE client and the server, and clears the query cache. */
  dispose(): Promise<void>;
}

export async function createHarness(opts: { headers?: Record<string, string> } = {}): Promise<Harness> {
  const { router, probe, feed } = createTestRouter();
  const server = await startNodeServer(router);
  // The client's default fetch is `globalThis.fetch`, which jsdom leaves as Node's; counting
  // calls through a wrapper also proves a failed subscription does not reconnect.
  const nodeFetch = globalThis.fetch as unknown as FetchLike;
  let fetchCalls = 0;
  const countingFetch: FetchLike = (url, init) => {
    fetchCalls++;
    return nodeFetch.call(globalThis, url, init);
  };
  const sse = createSSEClient({
    url: server.url,
    fetch: countingFetch,
    retry: FAST_RETRY,
    ...(opts.headers ? { headers: opts.headers } : {}),
  });
  const client = createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] });
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return {
    server,
    probe,
    feed,
    sse,
    client,
    queryClient,
    get fetchCalls() {
      return fetchCalls;
    },
    async dispose() {
      sse.close();
      await server.close();
      queryClient.clear();
    },
  };
}

/** What one `useSubscription` reported, in order. */
export class Recorder<T> {
  /** `subscription.status` at every committed change. */
  readonly statuses: string[] = [];
  /** Every `onData` value, tagged with the connection (count of `onStarted` so far) it came on. */
  readonly data: Array<{ conn: number; value: T }> = [];
  readonly errors: unknown[] = [];
  /** `onStarted` calls: one per established connection. */
  starts = 0;
  /** The hook's latest result (status, data, error). */
  latest: { status: string; data: unknown; error: unknown } | undefined;

  /** Options for the hook: `onStarted`, `onData`, `onError`. */
  handlers() {
    return {
      onStarted: () => {
        this.starts++;
      },
      onData: (value: T) => {
        this.data.push({ conn: this.starts, value });
      },
      onError: (error: unknown) => {
        this.errors.push(error);
      },
    };
  }

  /** The status sequence with consecutive repeats collapsed (re-renders without a change). */
  get statusSequence(): string[] {
    return this.statuses.filter((s, i) => i === 0 || this.statuses[i - 1] !== s);
  }

  get status(): string | undefined {
    return this.latest?.status;
  }

  values(): T[] {
    return this.data.map((d) => d.value);
  }

  valuesOn(conn: number): T[] {
    return this.data.filter((d) => d.conn === conn).map((d) => d.value);
  }

  describe(): string {
    return `statuses ${this.statuses.join('>')}, starts ${this.starts}, data ${JSON.stringify(this.values())}, errors ${this.errors
      .map((e) => (e as Error).message)
      .join('; ')}`;
  }
}

/** Records the hook's status on every commit where it changed (and the latest result). */
export function useRecord<T>(recorder: Recorder<T>, sub: { status: string; data: unknown; error: unknown }): void {
  // Reading the three fields in render also makes the hooks track them (they re-render only
  // for fields that were read).
  const { status, data, error } = sub;
  useEffect(() => {
    recorder.latest = { status, data, error };
  });
  useEffect(() => {
    recorder.statuses.push(status);
  }, [recorder, status]);
}

/** The tRPC code on a client error (`error.data.code`). */
export function codeOf(error: unknown): string | undefined {
  return (error as { data?: { code?: string } } | null | undefined)?.data?.code;
}

/** Ids 0..n-1 as strings. */
export function range(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i));
}

export type CounterItem = { id: string; data: { n: number } };
export type LiveItem = { id: string; data: { id: string; text: string } };
export type SecretValue = { user: string; params: Record<string, string> | null };
export type FailingInput = { after: number; code: 'FORBIDDEN' | 'INTERNAL_SERVER_ERROR' | 'CONFLICT' };

/**
 * One package's way of calling `useSubscription`: a provider wrapper and one component per
 * procedure, each calling the hook with `rec.handlers()` and `useRecord(rec, result)`.
 */
export interface HookAdapter {
  Wrapper: ComponentType<{ harness: Harness; children: ReactNode }>;
  Counter: ComponentType<{ rec: Recorder<CounterItem>; input: { count: number; intervalMs: number } }>;
  Live: ComponentType<{ rec: Recorder<LiveItem> }>;
  Secret: ComponentType<{ rec: Recorder<SecretValue> }>;
  Failing: ComponentType<{ rec: Recorder<number>; input: FailingInput }>;
}

const WAIT = { timeout: 10_000, interval: 5 } as const;

/** Registers the `useSubscription` suite for one package. */
export function defineSubscriptionSuite(name: string, adapter: HookAdapter): void {
  const { Wrapper, Counter, Live, Secret, Failing } = adapter;

  describe(`${name} useSubscription over sseLink`, () => {
    const cleanups: Array<() => unknown> = [];
    afterEach(async () => {
      // Unmount first (unsubscribes), then close the client and the server.
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setup(opts: { headers?: Record<string, string> } = {}): Promise<Harness> {
      const harness = await createHarness(opts);
      cleanups.push(() => harness.dispose());
      return harness;
    }

    function mount(harness: Harness, ui: ReactNode): RenderResult {
      const result = render(<Wrapper harness={harness}>{ui}</Wrapper>);
      cleanups.push(() => result.unmount());
      return result;
    }

    test('connecting → pending, and again after the server drops the stream; resumes after the last tracked id', async () => {
      const h = await setup();
      const rec = new Recorder<CounterItem>();
      const view = mount(h, <Counter rec={rec} input={{ count: 100_000, intervalMs: 10 }} />);

      await waitFor(() => {
        expect(rec.status, rec.describe()).toBe('pending');
        expect(rec.data.length, rec.describe()).toBeGreaterThanOrEqual(3);
      }, WAIT);
      expect(rec.statusSequence).toEqual(['connecting', 'pending']);
      expect(h.probe.started).toBe(1);

      // Ends every stream without `return`: the client must reconnect by itself.
      h.server.core.closeAllStreams();

      await waitFor(() => {
        expect(rec.starts, rec.describe()).toBe(2);
        expect(rec.status, rec.describe()).toBe('pending');
        expect(rec.valuesOn(2).length, rec.describe()).toBeGreaterThanOrEqual(3);
      }, WAIT);

      expect(rec.statusSequence, rec.describe()).toEqual(['connecting', 'pending', 'connecting', 'pending']);
      expect(rec.latest?.error ?? null).toBeNull();
      expect(rec.errors).toEqual([]);

      // No duplicate and no gap across the reconnect: the server resumed after the last id.
      const ids = rec.values().map((v) => v.id);
      expect(ids).toEqual(range(ids.length));
      expect(rec.values().map((v) => v.data.n)).toEqual(ids.map(Number));
      const lastBefore = rec.valuesOn(1).at(-1)!.id;
      const firstAfter = rec.valuesOn(2)[0]!.id;
      expect(Number(firstAfter)).toBe(Number(lastBefore) + 1);
      expect(h.probe.started).toBe(2);
      expect(h.probe.lastInputs[1]).toMatchObject({ count: 100_000, intervalMs: 10, lastEventId: lastBefore });
      // The hook's `data` follows the stream after the reconnect (the counter keeps ticking, so
      // the committed value may trail `onData` by a tick).
      const shownId = (rec.latest?.data as CounterItem | undefined)?.id;
      expect(ids).toContain(shownId);
      expect(Number(shownId)).toBeGreaterThanOrEqual(Number(firstAfter));
      expect(view.getByTestId('status').textContent).toBe('pending');

      // Unmounting unsubscribes: the server stops the procedure.
      view.unmount();
      await waitFor(() => expect(h.probe.finished).toBe(2), WAIT);
    });

    test('live feed: data keeps arriving after a reconnect, resumed from the last tracked id, no duplicates', async () => {
      const h = await setup();
      const rec = new Recorder<LiveItem>();
      const view = mount(h, <Live rec={rec} />);

      await waitFor(() => {
        expect(h.probe.started).toBe(1);
        expect(rec.status, rec.describe()).toBe('pending');
      }, WAIT);
      h.feed.emit('item', { id: 'a1', text: 'one' });
      h.feed.emit('item', { id: 'a2', text: 'two' });
      await waitFor(() => expect(rec.data.length, rec.describe()).toBe(2), WAIT);

      h.server.core.closeAllStreams();
      await waitFor(() => {
        expect(h.probe.started).toBe(2);
        expect(rec.starts, rec.describe()).toBe(2);
        expect(rec.status, rec.describe()).toBe('pending');
      }, WAIT);
      // The reconnect carried `Last-Event-ID`, merged into the input as tRPC does.
      expect(h.probe.lastInputs[1]).toEqual({ lastEventId: 'a2' });

      h.feed.emit('item', { id: 'a3', text: 'three' });
      h.feed.emit('item', { id: 'a4', text: 'four' });
      await waitFor(() => expect(rec.data.length, rec.describe()).toBe(4), WAIT);

      expect(rec.values()).toEqual([
        { id: 'a1', data: { id: 'a1', text: 'one' } },
        { id: 'a2', data: { id: 'a2', text: 'two' } },
        { id: 'a3', data: { id: 'a3', text: 'three' } },
        { id: 'a4', data: { id: 'a4', text: 'four' } },
      ]);
      expect(rec.valuesOn(1).map((v) => v.id)).toEqual(['a1', 'a2']);
      expect(rec.valuesOn(2).map((v) => v.id)).toEqual(['a3', 'a4']);
      expect(rec.statusSequence, rec.describe()).toEqual(['connecting', 'pending', 'connecting', 'pending']);
      expect(rec.latest?.data).toEqual({ id: 'a4', data: { id: 'a4', text: 'four' } });
      expect(rec.errors).toEqual([]);

      view.unmount();
      await waitFor(() => expect(h.probe.finished).toBe(2), WAIT);
    });

    test('secret without authorization ends in status error with UNAUTHORIZED, without reconnecting', async () => {
      const h = await setup();
      const rec = new Recorder<SecretValue>();
      mount(h, <Secret rec={rec} />);

      await waitFor(() => expect(rec.status, rec.describe()).toBe('error'), WAIT);
      expect(codeOf(rec.latest?.error), rec.describe()).toBe('UNAUTHORIZED');
      expect((rec.latest?.error as Error).message).toBe('Sign in first');
      expect(rec.errors).toHaveLength(1);
      expect(codeOf(rec.errors[0])).toBe('UNAUTHORIZED');
      expect(rec.data).toEqual([]);
      const sequence = rec.statusSequence;
      expect(sequence[0]).toBe('connecting');
      expect(sequence.at(-1)).toBe('error');
      expect(sequence.filter((s) => s === 'error')).toHaveLength(1);
      // Not retryable: one request, no reconnect.
      expect(h.fetchCalls).toBe(1);
    });

    test('secret with authorization delivers its value, then the completed subscription goes idle', async () => {
      const h = await setup({ headers: { authorization: 'Bearer alice' } });
      const rec = new Recorder<SecretValue>();
      mount(h, <Secret rec={rec} />);

      await waitFor(() => {
        expect(rec.data.length, rec.describe()).toBe(1);
        expect(rec.status, rec.describe()).toBe('idle');
      }, WAIT);
      expect(rec.values()).toEqual([{ user: 'alice', params: null }]);
      // The whole stream may arrive in one chunk, so React may batch `pending` away.
      expect([['connecting', 'pending', 'idle'], ['connecting', 'idle']], rec.describe()).toContainEqual(rec.statusSequence);
      expect(rec.starts).toBe(1);
      expect(rec.latest?.data).toBeUndefined();
      expect(rec.errors).toEqual([]);
      expect(h.fetchCalls).toBe(1);
    });

    test('failing with FORBIDDEN mid-stream ends in status error with FORBIDDEN after the values before it', async () => {
      const h = await setup();
      const rec = new Recorder<number>();
      mount(h, <Failing rec={rec} input={{ after: 2, code: 'FORBIDDEN' }} />);

      await waitFor(() => expect(rec.status, rec.describe()).toBe('error'), WAIT);
      const error = rec.latest?.error as Error & { data?: { code?: string; httpStatus?: number; path?: string } };
      expect(codeOf(error), rec.describe()).toBe('FORBIDDEN');
      expect(error.data?.httpStatus).toBe(403);
      expect(error.data?.path).toBe('failing');
      expect(error.message).toBe('failed with FORBIDDEN');
      expect(rec.values()).toEqual([0, 1]);
      expect(rec.errors).toHaveLength(1);
      // The whole stream may arrive in one chunk, so React may batch `pending` away.
      expect([['connecting', 'pending', 'error'], ['connecting', 'error']], rec.describe()).toContainEqual(rec.statusSequence);
      expect(rec.starts).toBe(1);
      expect(h.fetchCalls).toBe(1);
    });
  });
}
