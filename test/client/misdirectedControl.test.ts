/**
 * Server processes with no connection directory behind a round-robin balancer with no
 * sticky sessions: a multiplexed client's control requests land on a process that does not
 * hold its stream. The client learns it once (421), carries on in distinct mode with no gap
 * and no error, and leaves no procedure running on either process.
 */
import { createTRPCClient } from '@trpc/client';
import { afterEach, expect, test } from 'vitest';
import { createSSEClient, sseLink, type SSEClient } from '../../src/client/index.js';
import { startChaosProxy } from '../helpers/chaosProxy.js';
import type { TestClientError } from '../helpers/clientError.js';
import { Collector } from '../helpers/collector.js';
import { startServerProcess, type ServerProcess } from '../helpers/processes.js';
import type { TestRouter } from '../helpers/router.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

interface ProcessProbe {
  started: number;
  finished: number;
  connections: number;
  requests: string[];
}

function probeOf(child: ServerProcess): Promise<ProcessProbe> {
  return new Promise((resolve) => {
    child.child.once('message', (message) => resolve(message as ProcessProbe));
    child.child.send('probe');
  });
}

/**
 * Three processes (a grace period far longer than the test, so a connection left to it would
 * keep its procedures running) behind a balancer that gives each new TCP connection to the
 * next process in turn. Three, because `fetch` itself sends a request answered 421 once more
 * over a new connection (the Fetch standard): with two, that second try always reaches the
 * owner, and the client never sees the 421.
 */
async function deployment() {
  const processes: ServerProcess[] = [];
  for (let i = 0; i < 3; i++) processes.push(await startServerProcess(0, { GRACE_MS: '600000' }));
  cleanup.push(async () => {
    for (const child of processes) await child.kill();
  });
  let turn = 0;
  const balancer = await startChaosProxy(() => processes[turn++ % processes.length]!.port);
  cleanup.push(() => balancer.close());
  const probes = () => Promise.all(processes.map(probeOf));
  return { url: `http://127.0.0.1:${balancer.port}/trpc`, balancer, probes };
}

function client(url: string, mode: 'auto' | 'multiplexed') {
  const errors: TestClientError[] = [];
  const fallbacks: TestClientError[] = [];
  const sse: SSEClient = createSSEClient({
    url,
    mode,
    retry: { minDelayMs: 10, maxDelayMs: 100 },
    onError: (error) => errors.push(error as TestClientError),
    onFallback: (reason) => fallbacks.push(reason as TestClientError),
  });
  cleanup.push(() => sse.close());
  const trpc = createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] });
  return { sse, trpc, errors, fallbacks };
}

const COUNT = 40;

test.each(['auto', 'multiplexed'] as const)(
  '%s: control requests on the wrong process: one 421, then distinct mode; every event once, in order; nothing left running',
  { timeout: 60_000 },
  async (mode) => {
    const { url, balancer, probes } = await deployment();
    const { sse, trpc, errors, fallbacks } = client(url, mode);
    const input = { count: COUNT, intervalMs: 25 };
    // The first rides on the stream's request: it runs on the stream's process.
    const first = new Collector<{ id: string; data: { n: number } }>();
    trpc.counter.subscribe(input, first.handlers());
    await first.untilData(3);
    // The next three go in a control request, which the balancer takes to the other process.
    const others = [1, 2, 3].map(() => new Collector<{ id: string; data: { n: number } }>());
    for (const c of others) trpc.counter.subscribe(input, c.handlers());

    for (const c of [first, ...others]) {
      await c.until(() => c.completed, 'the counter to complete', 30_000);
      // Each resumed where it was: every event once, in order, and no error.
      expect(c.data.map((d) => d.data.n)).toEqual(Array.from({ length: COUNT }, (_, i) => i));
      expect(c.data.map((d) => d.id)).toEqual(Array.from({ length: COUNT }, (_, i) => String(i)));
      expect(c.errors).toEqual([]);
    }
    expect(errors).toEqual([]);
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]!.data?.httpStatus).toBe(421);
    expect(fallbacks[0]!.message).toMatch(/sticky sessions/);
    expect(sse.fallbackReason).toBe(fallbacks[0]);
    expect(sse.mode).toBe('distinct');

    // A subscription made now is distinct from the start: one GET, nothing else.
    const late = new Collector<{ id: string; data: { n: number } }>();
    trpc.counter.subscribe({ count: 3 }, late.handlers());
    await late.until(() => late.completed, 'the late counter to complete');
    expect(late.data.map((d) => d.data.n)).toEqual([0, 1, 2]);

    const served = (await probes()).flatMap((p) => p.requests);
    // One multiplexed stream, the control request that met the wrong process (twice: fetch's
    // own retry), the `close` of the connection (sent again while it meets the wrong one, at
    // most 4 times, each perhaps twice), and one stream per subscription: no reconnect loop.
    expect(served.filter((r) => r === 'GET /trpc/trpc-sse')).toHaveLength(1);
    expect(served.filter((r) => r === 'GET /trpc/counter')).toHaveLength(5);
    const controls = served.filter((r) => r === 'POST /trpc/trpc-sse').length;
    expect(controls).toBeGreaterThanOrEqual(3);
    expect(controls).toBeLessThanOrEqual(10);
    expect(balancer.connections).toBeLessThanOrEqual(served.length);

    // The multiplexed connection was closed on its process (its `close` got through), and
    // every procedure ran its `finally`: none waits out the grace period.
    await expect
      .poll(async () => (await probes()).map((p) => [p.connections, p.started - p.finished]), { timeout: 20_000 })
      .toEqual([
        [0, 0],
        [0, 0],
        [0, 0],
      ]);
  },
);

test('close() before any control request: the `close` that meets the wrong process is sent again, and reaches the owner', async () => {
  const { url, probes } = await deployment();
  const { sse, trpc, errors, fallbacks } = client(url, 'multiplexed');
  // All four ride on the stream's request: no control request is needed until close().
  const collectors = [1, 2, 3, 4].map(() => new Collector());
  for (const c of collectors) trpc.idle.subscribe(undefined, c.handlers());
  for (const c of collectors) await c.untilData(1);
  const running = await probes();
  expect(running.map((p) => p.started).sort()).toEqual([0, 0, 4]);

  sse.close();
  // Its `close` first meets the other processes (421 twice: fetch's retry, then ours, each
  // over a new connection), then the owner: its procedures end now, not after the 10-minute
  // grace period.
  await expect
    .poll(async () => (await probes()).map((p) => [p.connections, p.started - p.finished]), { timeout: 20_000 })
    .toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
  const served = (await probes()).flatMap((p) => p.requests);
  expect(served.filter((r) => r === 'POST /trpc/trpc-sse').length).toBeGreaterThanOrEqual(3);
  expect(errors).toEqual([]);
  expect(fallbacks).toEqual([]);
});
