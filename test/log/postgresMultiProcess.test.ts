/**
 * Several server processes on one PostgreSQL: control requests reach whichever process the
 * balancer picks and are handed to the owner; the log resumes a client on another process.
 */
import { createTRPCClient } from '@trpc/client';
import pg from 'pg';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createSSEClient, sseLink } from '../../src/client/index.js';
import { createPostgresConnectionDirectory } from '../../src/postgres/postgresConnectionDirectory.js';
import type { PostgresMultiProcessRouter } from '../fixtures/postgresServerProcess.js';
import { startChaosProxy, type ChaosProxy } from '../helpers/chaosProxy.js';
import { Collector } from '../helpers/collector.js';
import { startPostgresServer, type PostgresServer } from '../helpers/postgresServer.js';
import type { ServerProcess } from '../helpers/processes.js';
import { createTestRouter } from '../helpers/router.js';
import { startNodeServer } from '../helpers/servers.js';

let postgres: PostgresServer;
/** The test's own look at the database. */
let admin: pg.Pool;
const cleanup: Array<() => unknown> = [];
beforeAll(async () => {
  postgres = await startPostgresServer();
  admin = newPool();
}, 120_000);
const pools: pg.Pool[] = [];
afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  // The server before the pools: a connection a failed test left checked out would hold
  // `pool.end()` up.
  await postgres?.stop();
  for (const pool of pools) await pool.end();
});

function newPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: postgres.url, max: 10 });
  pool.on('error', () => undefined);
  pools.push(pool);
  return pool;
}

const FIXTURE = fileURLToPath(new URL('../fixtures/postgresServerProcess.ts', import.meta.url));

/** A server process of the fixture, on the test's PostgreSQL; resolves once it listens. */
function startPostgresServerProcess(): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, '0', postgres.url], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const stop = (signal: NodeJS.Signals) =>
    new Promise<number | null>((done) => {
      if (exited()) {
        done(child.exitCode);
        return;
      }
      child.once('exit', (code) => done(code));
      child.kill(signal);
    });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}: ${out}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (match)
        resolve({
          port: Number(match[1]),
          child,
          kill: async () => {
            await stop('SIGKILL');
          },
          terminate: () => stop('SIGTERM'),
        });
    });
  });
}

/** Opens a multiplexed stream on `server` and reads its hello. */
async function openStream(server: { url: string }) {
  const stream = await fetch(server.url, { headers: { accept: 'text/event-stream' } });
  const reader = stream.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const readUntil = async (needle: string): Promise<void> => {
    while (!text.includes(needle)) text += decoder.decode((await reader.read()).value, { stream: true });
  };
  await readUntil('\n\n');
  const hello = JSON.parse(/data: (.*)/.exec(text)![1]!) as { connectionId: string; secret: string };
  return { hello, readUntil, text: () => text, close: () => reader.cancel() };
}

/** Live owner records of `connectionId` in the directory's table. */
async function ownerRecords(tablePrefix: string, connectionId: string): Promise<number> {
  const { rows } = await admin.query(
    `SELECT count(*)::int AS n FROM ${tablePrefix}connections WHERE connection_id = $1 AND expires_at > clock_timestamp()`,
    [connectionId],
  );
  return (rows[0] as { n: number }).n;
}

function control(server: { url: string }, connectionId: string, secret: string, ops: unknown[]) {
  return fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'trpc-sse-connection': connectionId, 'trpc-sse-secret': secret },
    body: JSON.stringify({ ops }),
  });
}

test('a control request that reaches another process is handed to the owner', async () => {
  const fixture = createTestRouter();
  const directoryA = createPostgresConnectionDirectory({ pool: newPool(), tablePrefix: 'route_' });
  const directoryB = createPostgresConnectionDirectory({ pool: newPool(), tablePrefix: 'route_' });
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

  const stream = await openStream(a);
  const { connectionId, secret } = stream.hello;
  // A writes its owner record in the background (announcing does not hold the stream up).
  await expect.poll(() => ownerRecords('route_', connectionId), { timeout: 20_000 }).toBe(1);
  // Sent to B, which does not hold the connection: B hands it to A.
  const answer = await control(b, connectionId, secret, [
    { op: 'subscribe', id: 's1', path: 'counter', input: { count: 2 } },
  ]);
  expect(answer.status).toBe(204);
  await stream.readUntil('event: return');
  expect(stream.text()).toContain('"s":"s1","i":"1"');
  // A body far past NOTIFY's 8000-byte payload goes through the mailbox table.
  const big = await control(b, connectionId, secret, [
    { op: 'subscribe', id: 'big', path: 'counter', input: { count: 3, lastEventId: '0'.repeat(20_000) } },
  ]);
  expect(big.status).toBe(204);
  await stream.readUntil('"s":"big","i":"2"');
  // The owner still checks the secret: a wrong one through B is refused by A.
  const refused = await control(b, connectionId, 'wrong', [{ op: 'subscribe', id: 's2', path: 'idle' }]);
  expect(refused.status).toBe(403);
  // A connection nobody holds: 404 from any process.
  const unknown = await control(b, 'nobody', 'x', []);
  expect(unknown.status).toBe(404);
  await stream.close();
});

test('a connection whose owner process died answers 404 as soon as its session is gone, though its record has not expired', async () => {
  const owner = await startPostgresServerProcess();
  cleanup.push(() => owner.kill());
  const other = createPostgresConnectionDirectory({ pool: newPool(), tablePrefix: 'multi_' });
  cleanup.push(() => other.close());
  const b = await startNodeServer(createTestRouter().router, { connectionDirectory: other });
  cleanup.push(() => b.close());
  const stream = await openStream({ url: `http://127.0.0.1:${owner.port}/trpc` });
  const { connectionId, secret } = stream.hello;
  // The owner writes its record in the background: wait until B routes to it.
  let attempt = 0;
  const status = async (): Promise<number> =>
    (await control(b, connectionId, secret, [{ op: 'subscribe', id: `s${++attempt}`, path: 'feed' }])).status;
  await expect.poll(status, { timeout: 20_000 }).toBe(204);
  await owner.kill();
  // Postgres ends the dead process's sessions, and with them the lock that said it lives.
  await expect.poll(status, { timeout: 20_000 }).toBe(404);
  expect(await ownerRecords('multi_', connectionId)).toBe(1);
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

function connectionsOf(child: ServerProcess): Promise<number> {
  return new Promise((resolve) => {
    child.child.once('message', (message) => resolve((message as { connections: number }).connections));
    child.child.send('connections');
  });
}

test(
  'two processes behind a round-robin balancer, 10,000 events, the stream’s process killed mid-way: every event once, in order',
  { timeout: 240_000 },
  async () => {
    const processes: ServerProcess[] = [await startPostgresServerProcess(), await startPostgresServerProcess()];
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
    const trpc = createTRPCClient<PostgresMultiProcessRouter>({ links: [sseLink({ client: sse })] });
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
    await c.untilData(published, 60_000);

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
    await c.untilData(total, 120_000);
    expect(c.errors).toEqual([]);
    expect(c.data.map((d) => d.data.n)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(new Set(c.data.map((d) => d.id)).size).toBe(total);
  },
);
