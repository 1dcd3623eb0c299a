/**
 * What a new user meets first, on the client: a relative URL outside a browser fails once with
 * a clear error; `auto` says when it falls back to distinct mode, and why; `connectionState`
 * is `createWSClient`'s shape; distinct streams advise stock clients a `retry:`; a client
 * nobody closed does not keep a Node process alive.
 */
import { createTRPCClient, type TRPCClientError } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import type { BehaviorSubject } from '@trpc/server/observable';
import type { TRPCConnectionState } from '@trpc/client/unstable-internals';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, expectTypeOf, test, vi } from 'vitest';
import { createSSEClient, sseLink, type FetchLike, type SSEClient } from '../../src/client/index.js';
import type { TestClientError } from '../helpers/clientError.js';
import { Collector } from '../helpers/collector.js';
import { jsonResponse, scriptedFetch } from '../helpers/fakeFetch.js';
import { createTestRouter, type TestRouter } from '../helpers/router.js';
import { startNodeServer } from '../helpers/servers.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const FAST = { minDelayMs: 1, maxDelayMs: 5 };

describe('a relative url outside a browser', () => {
  test.each(['multiplexed', 'distinct', 'auto'] as const)(
    '%s: fails the subscription once with BAD_REQUEST naming the cause; never fetched',
    async (mode) => {
      const fetch = vi.fn();
      const onError = vi.fn();
      const sse = createSSEClient({ url: '/trpc', mode, fetch, retry: FAST, onError });
      cleanup.push(() => sse.close());
      const trpc = createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] });
      const c = new Collector();
      trpc.idle.subscribe(undefined, c.handlers());
      const error = await c.untilError();
      expect(error.data?.code).toBe('BAD_REQUEST');
      expect(error.message).toMatch(/"\/trpc" is relative/);
      expect(error.message).toMatch(/absolute URL/);
      expect(c.errors).toHaveLength(1);
      expect(onError).toHaveBeenCalledTimes(1);
      expect(fetch).not.toHaveBeenCalled();
    },
  );
});

describe("mode: 'auto' falling back", () => {
  /** A server whose multiplexed path answers 404, as a route that does not forward it would. */
  function notForwarded() {
    return scriptedFetch((call) =>
      call.url.includes('/trpc-sse')
        ? jsonResponse(404, {
            error: { message: 'Not Found', code: -32004, data: { code: 'NOT_FOUND', httpStatus: 404 } },
          })
        : jsonResponse(404, {}),
    );
  }

  test('tells onFallback why, keeps the reason readable, and does not warn', async () => {
    const { fetch } = notForwarded();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    cleanup.push(() => warn.mockRestore());
    const onFallback = vi.fn();
    const sse = createSSEClient({ url: 'http://x/trpc', fetch, retry: FAST, onFallback });
    cleanup.push(() => sse.close());
    expect(sse.fallbackReason).toBeNull();
    const trpc = createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] });
    const c = new Collector();
    trpc.idle.subscribe(undefined, c.handlers());
    await vi.waitFor(() => expect(sse.mode).toBe('distinct'), { timeout: 10_000 });
    expect(onFallback).toHaveBeenCalledTimes(1);
    const reason = onFallback.mock.calls[0]![0] as TestClientError;
    expect(reason.data?.code).toBe('NOT_FOUND');
    expect(sse.fallbackReason).toBe(reason);
    expect(warn).not.toHaveBeenCalled();
  });

  test('without onFallback, warns once on the console, naming the path the route must forward', async () => {
    const { fetch } = notForwarded();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    cleanup.push(() => warn.mockRestore());
    const sse = createSSEClient({ url: 'http://x/trpc', fetch, retry: FAST });
    cleanup.push(() => sse.close());
    const trpc = createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] });
    for (let i = 0; i < 3; i++) trpc.idle.subscribe(undefined, new Collector().handlers());
    await vi.waitFor(() => expect(sse.mode).toBe('distinct'), { timeout: 10_000 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/\{endpoint\}\/trpc-sse/);
  });

  test('an onFallback that throws changes nothing: the subscription still runs in distinct mode', async () => {
    const server = await startNodeServer(createTestRouter().router);
    cleanup.push(() => server.close());
    // Our server, reached through a "route" that hides the multiplexed path.
    const fetch: FetchLike = (url, init) =>
      url.includes('/trpc-sse')
        ? Promise.resolve(new Response('<html>404</html>', { status: 404, headers: { 'content-type': 'text/html' } }))
        : globalThis.fetch(url, init);
    const sse = createSSEClient({
      url: server.url,
      fetch,
      retry: FAST,
      onFallback: () => {
        throw new Error('app bug');
      },
    });
    cleanup.push(() => sse.close());
    const trpc = createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] });
    const c = new Collector<{ id: string; data: { n: number } }>();
    trpc.counter.subscribe({ count: 2 }, c.handlers());
    await c.until(() => c.completed, 'completion');
    expect(c.data.map((d) => d.id)).toEqual(['0', '1']);
    expect(sse.mode).toBe('distinct');
    expect((sse.fallbackReason as TestClientError | null)?.data?.code).toBe('NOT_FOUND');
  });
});

test('connectionState is createWSClient’s BehaviorSubject: .get() and .subscribe()', () => {
  const sse: SSEClient = createSSEClient({ url: 'http://x/trpc', fetch: vi.fn() });
  cleanup.push(() => sse.close());
  expectTypeOf(sse.connectionState).toEqualTypeOf<
    BehaviorSubject<TRPCConnectionState<TRPCClientError<AnyTRPCRouter>>>
  >();
  expect(sse.connectionState.get()).toEqual({ type: 'state', state: 'idle', error: null });
  const seen: string[] = [];
  const subscription = sse.connectionState.subscribe({ next: (state) => seen.push(state.state) });
  subscription.unsubscribe();
  expect(seen).toEqual(['idle']);
});

test('a distinct stream starts with retry: (the server’s retryMs), for EventSource and stock clients', async () => {
  const server = await startNodeServer(createTestRouter().router, { retryMs: 750 });
  cleanup.push(() => server.close());
  const response = await fetch(`${server.url}/idle`, { headers: { accept: 'text/event-stream' } });
  const reader = response.body!.getReader();
  let text = '';
  while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  expect(text.split('\n\n')[0]).toMatch(/^event: connected\nretry: 750\ndata: /);
});

describe('a Node process with a client nobody closed', () => {
  const script = fileURLToPath(new URL('../fixtures/unclosedClient.ts', import.meta.url));

  /** Runs the fixture with tsx and resolves with its exit code and output. */
  function run(args: string[]): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('exit', (code) => resolve({ code, output }));
    });
  }

  test('exits by itself: after creating one, and after its last subscription ended', async () => {
    const server = await startNodeServer(createTestRouter().router);
    cleanup.push(() => server.close());
    const created = await run([server.url, 'create']);
    expect(created).toEqual({ code: 0, output: 'created\n' });
    expect(server.core.openStreams).toBe(0);
    const subscribed = await run([server.url, 'subscribe']);
    expect(subscribed).toEqual({ code: 0, output: 'event 0\nunsubscribed\n' });
  });
});

describe('an endpoint with its own query string (and a fragment)', () => {
  test.each(['multiplexed', 'distinct'] as const)(
    '%s: the path goes before the query, the query is kept, the fragment dropped',
    async (mode) => {
      const server = await startNodeServer(createTestRouter().router);
      cleanup.push(() => server.close());
      const urls: string[] = [];
      const fetch: FetchLike = (url, init) => {
        urls.push(url);
        return globalThis.fetch(url, init);
      };
      const sse = createSSEClient({ url: `${server.url}/?tenant=a#top`, mode, fetch, retry: FAST });
      cleanup.push(() => sse.close());
      const trpc = createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] });
      const c = new Collector<{ id: string; data: { n: number } }>();
      trpc.counter.subscribe({ count: 2 }, c.handlers());
      await c.until(() => c.completed, 'completion');
      expect(c.data.map((d) => d.id)).toEqual(['0', '1']);
      const first = new URL(urls[0]!);
      expect(first.pathname).toBe(mode === 'multiplexed' ? '/trpc/trpc-sse' : '/trpc/counter');
      expect(first.searchParams.get('tenant')).toBe('a');
      expect(first.hash).toBe('');
    },
  );
});
