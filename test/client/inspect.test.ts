/**
 * `client.inspect()`: one readable snapshot for a devtools panel — streams open, the attempt
 * behind the scheduled reconnect and when it is due, the last error — kept current by the
 * client's own loops.
 */
import { createTRPCClient } from '@trpc/client';
import { afterEach, describe, expect, test } from 'vitest';
import { createSSEClient, sseLink, type SSEClient } from '../../src/client/index.js';
import type { TestRouter } from '../helpers/router.js';
import { jsonResponse, scriptedFetch, sseResponse } from '../helpers/fakeFetch.js';

let client: SSEClient | undefined;
afterEach(() => client?.close());

const CONNECTED = 'event: connected\ndata: {}\n\n';

describe.each(['distinct', 'multiplexed'] as const)('%s mode', (mode) => {
  test('while a refused connection waits to retry: the attempt, when it is due, the error', async () => {
    const { fetch } = scriptedFetch(() => jsonResponse(503, { error: 'down' }));
    client = createSSEClient({
      url: 'http://127.0.0.1:1/trpc',
      mode,
      fetch,
      retry: { minDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    const trpc = createTRPCClient<TestRouter>({ links: [sseLink({ client })] });
    const before = Date.now();
    let refused: () => void = () => undefined;
    const failedOnce = new Promise<void>((resolve) => (refused = resolve));
    trpc.counter.subscribe(
      { count: 1 },
      {
        onConnectionStateChange: (state) => {
          if (state.state === 'connecting' && state.error) refused();
        },
      },
    );
    await failedOnce;
    // The wait is scheduled in the same turn as the state, after it is reported.
    await new Promise((resolve) => setImmediate(resolve));
    const seen = client.inspect();
    expect(seen).toMatchObject({
      mode,
      tabRole: null,
      connectionState: 'connecting',
      openStreams: 0,
      attempt: 1,
      lastOpenedAt: null,
    });
    expect(seen.lastError?.data).toMatchObject({ code: 'SERVICE_UNAVAILABLE', httpStatus: 503 });
    expect(seen.lastErrorAt).toBeGreaterThanOrEqual(before);
    expect(seen.nextRetryAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(seen.nextRetryAt).toBeLessThanOrEqual(Date.now() + 60_000);
  });
});

test('an open stream is counted while it is read, and not after', async () => {
  let closed: () => void = () => undefined;
  const streamClosed = new Promise<void>((resolve) => (closed = resolve));
  const { fetch } = scriptedFetch((_call, signal) => sseResponse([CONNECTED], { hold: true, signal }));
  client = createSSEClient({ url: 'http://127.0.0.1:1/trpc', mode: 'distinct', fetch, onClose: () => closed() });
  const trpc = createTRPCClient<TestRouter>({ links: [sseLink({ client })] });
  const before = Date.now();
  let started: () => void = () => undefined;
  const running = new Promise<void>((resolve) => (started = resolve));
  const subscription = trpc.counter.subscribe({ count: 1 }, { onStarted: () => started() });
  await running;
  expect(client.inspect()).toMatchObject({
    openStreams: 1,
    attempt: 0,
    nextRetryAt: null,
    lastError: null,
    connectionState: 'pending',
  });
  expect(client.inspect().lastOpenedAt).toBeGreaterThanOrEqual(before);
  subscription.unsubscribe();
  await streamClosed;
  expect(client.inspect().openStreams).toBe(0);
});
