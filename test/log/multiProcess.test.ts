/**
 * Several server processes on one Redis: control requests reach whichever process the
 * balancer picks and are handed to the owner; the log resumes a client on another process.
 */
import { createTRPCClient } from '@trpc/client';
import { Redis } from 'ioredis';
import { request } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createSSEClient, sseLink } from '../../src/client/index.js';
import { createRedisConnectionDirectory } from '../../src/redis/connectionDirectory.js';
import { startChaosProxy, type ChaosProxy } from '../helpers/chaosProxy.js';
import { Collector } from '../helpers/collector.js';
import { startRedisServerProcess, type ServerProcess } from '../helpers/processes.js';
import { startRedisServer, type RedisServer } from '../helpers/redisServer.js';
import { createTestRouter } from '../helpers/router.js';
import type { MultiProcessRouter } from '../fixtures/redisServerProcess.js';
import { startNodeServer } from '../helpers/servers.js';

let redisServer: RedisServer;
const cleanup: Array<() => unknown> = [];
beforeAll(async () => {
  redisServer = await startRedisServer();
});
afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await redisServer?.kill();
});

function redisClient(): Redis {
  const redis = new Redis({ port: redisServer.port, host: '127.0.0.1', maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  cleanup.push(() => redis.disconnect());
  return redis;
}

test('a control request that reaches another process is handed to the owner', async () => {
  const fixture = createTestRouter();
  const directoryA = createRedisConnectionDirectory({ redis: redisClient(), keyPrefix: 'route:' });
  const directoryB = createRedisConnectionDirectory({ redis: redisClient(), keyPrefix: 'route:' });
  cleanup.push(
    () => directoryA.close(),
    () => directoryB.close(),
  );
  const a = await startNodeServer(fixture.router, { connectionDirectory: directoryA });
  const b = await startNodeServer(fixture.router, { connectionDirectory: directoryB });
  cleanup.push(
    () => a.close(),
    () => b.close(),
  );

  const stream = await fetch(a.url, { headers: { accept: 'text/event-stream' } });
  const reader = stream.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const readUntil = async (needle: string) => {
    while (!text.includes(needle)) text += decoder.decode((await reader.read()).value, { stream: true });
  };
  await readUntil('\n\n');
  const hello = JSON.parse(/data: (.*)/.exec(text)![1]!) as { connectionId: string; secret: string };
  const control = (server: { url: string }, secret: string, ops: unknown[]) =>
    fetch(server.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'trpc-sse-connection': hello.connectionId,
        'trpc-sse-secret': secret,
      },
      body: JSON.stringify({ ops }),
    });
  // Sent to B, which does not hold the connection: B hands it to A.
  const answer = await control(b, hello.secret, [{ op: 'subscribe', id: 's1', path: 'counter', input: { count: 2 } }]);
  expect(answer.status).toBe(204);
  await readUntil('event: return');
  expect(text).toContain('"s":"s1","i":"1"');
  // The owner still checks the secret: a wrong one through B is refused by A.
  const refused = await control(b, 'wrong', [{ op: 'subscribe', id: 's2', path: 'idle' }]);
  expect(refused.status).toBe(403);
  // A connection nobody holds: 404 from any process.
  const unknown = await fetch(b.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'trpc-sse-connection': 'nobody', 'trpc-sse-secret': 'x' },
    body: JSON.stringify({ ops: [] }),
  });
  expect(unknown.status).toBe(404);
  await reader.cancel();
});

/** A POST on a fresh TCP connection, so the round-robin balancer picks a process for it. */
function publishThrough(port: number, from: number, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ from, count });
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/trpc/publish',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve((JSON.parse(text) as { result: { data: number } }).result.data)
            : reject(new Error(text)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test(
  'two processes behind a round-robin balancer, 10,000 events, the stream’s process killed mid-way: every event once, in order',
  { timeout: 120_000 },
  async () => {
    const processes: ServerProcess[] = [
      await startRedisServerProcess(redisServer.port),
      await startRedisServerProcess(redisServer.port),
    ];
    cleanup.push(async () => {
      for (const child of processes) await child.kill();
    });
    let alive = processes.map((child) => child.port);
    let turn = 0;
    const proxy: ChaosProxy = await startChaosProxy(() => alive[turn++ % alive.length]!);
    cleanup.push(() => proxy.close());

    const sse = createSSEClient({
      url: `http://127.0.0.1:${proxy.port}/trpc`,
      mode: 'multiplexed',
      retry: { minDelayMs: 10, maxDelayMs: 100 },
    });
    cleanup.push(() => sse.close());
    const c = new Collector<{ id: string; data: { n: number; by: number } }>();
    const trpc = createTRPCClient<MultiProcessRouter>({ links: [sseLink({ client: sse })] });
    trpc.feed.subscribe(undefined, c.handlers());
    await c.until(() => c.started >= 1, 'started');

    const total = 10_000;
    const batch = 250;
    const publishers = new Set<number>();
    let published = 0;
    while (published < total / 2) {
      publishers.add(await publishThrough(proxy.port, published, batch));
      published += batch;
    }
    // Both processes published (the balancer alternates).
    expect(publishers.size).toBe(2);
    await c.untilData(published, 30_000);

    // Kill the process that holds the client's stream; the balancer drops it.
    const owners = await Promise.all(processes.map((child) => connectionsOf(child)));
    const ownerIndex = owners.findIndex((count) => count > 0);
    expect(ownerIndex).toBeGreaterThanOrEqual(0);
    await processes[ownerIndex]!.kill();
    alive = [processes[1 - ownerIndex]!.port];

    while (published < total) {
      await publishThrough(proxy.port, published, batch);
      published += batch;
    }
    await c.untilData(total, 60_000);
    expect(c.errors).toEqual([]);
    expect(c.data.map((d) => d.data.n)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(new Set(c.data.map((d) => d.id)).size).toBe(total);
  },
);

function connectionsOf(child: ServerProcess): Promise<number> {
  return new Promise((resolve) => {
    child.child.once('message', (message) => resolve((message as { connections: number }).connections));
    child.child.send('connections');
  });
}
