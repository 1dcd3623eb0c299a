/**
 * A multiplexed stream says hello only once the connection directory has its record: a
 * control request sent the moment the client reads the hello, to another process, is handed
 * to the owner (Redis and Postgres directories alike). A directory that is down delays the
 * hello by a bound, never for good.
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { createPostgresConnectionDirectory } from '../../src/postgres/postgresConnectionDirectory.js';
import { createRedisConnectionDirectory } from '../../src/redis/connectionDirectory.js';
import { ANNOUNCE_TIMEOUT_MS } from '../../src/server/multiplexed/registry.js';
import type { ConnectionDirectory } from '../../src/server/multiplexed/directory.js';
import { startPostgresServer } from '../helpers/postgresServer.js';
import { startRedisServer } from '../helpers/redisServer.js';
import { createTestRouter } from '../helpers/router.js';
import { startNodeServer, type RunningServer } from '../helpers/servers.js';

const cleanup: Array<() => unknown> = [];
const lasting: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
afterAll(async () => {
  for (const fn of lasting.splice(0).reverse()) await fn();
});

/** The directory with its record written `delayMs` late, as a loaded backend would. */
function slowToRecord(directory: ConnectionDirectory, delayMs: number): ConnectionDirectory {
  return {
    announce: (id) => new Promise<void>((resolve) => setTimeout(resolve, delayMs)).then(() => directory.announce(id)),
    withdraw: (id) => directory.withdraw(id),
    forward: (request) => directory.forward(request),
    serve: (handler) => directory.serve(handler),
  };
}

/** Opens the multiplexed stream on `server`; resolves with its hello (the stream stays open). */
async function openStream(server: RunningServer, query = '') {
  const response = await fetch(`${server.url}/trpc-sse${query}`, { headers: { accept: 'text/event-stream' } });
  const reader = response.body!.getReader();
  cleanup.push(() => reader.cancel());
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('\n\n')) text += decoder.decode((await reader.read()).value, { stream: true });
  return JSON.parse(/data: (.*)/.exec(text)![1]!) as { connectionId: string; secret: string };
}

function control(server: RunningServer, hello: { connectionId: string; secret: string }, ops: unknown[]) {
  return fetch(`${server.url}/trpc-sse`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'trpc-sse-connection': hello.connectionId,
      'trpc-sse-secret': hello.secret,
    },
    body: JSON.stringify({ ops }),
  });
}

const BACKENDS = {
  redis: async (): Promise<() => ConnectionDirectory> => {
    const server = await startRedisServer();
    lasting.push(() => server.kill());
    return () => {
      const redis = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: null });
      redis.on('error', () => undefined);
      const directory = createRedisConnectionDirectory({ redis, keyPrefix: 'announce:' });
      cleanup.push(
        () => redis.disconnect(),
        () => directory.close(),
      );
      return directory;
    };
  },
  postgres: async (): Promise<() => ConnectionDirectory> => {
    const server = await startPostgresServer();
    const pools: pg.Pool[] = [];
    lasting.push(
      () => server.stop(),
      async () => {
        for (const pool of pools) await pool.end();
      },
    );
    return () => {
      const pool = new pg.Pool({ connectionString: server.url, max: 4 });
      pool.on('error', () => undefined);
      pools.push(pool);
      const directory = createPostgresConnectionDirectory({ pool });
      cleanup.push(() => directory.close());
      return directory;
    };
  },
};

describe.each(Object.keys(BACKENDS) as Array<keyof typeof BACKENDS>)('%s directory', (backend) => {
  let directory: () => ConnectionDirectory;

  test(
    'a control request sent right after the hello, to another process, reaches the owner',
    { timeout: 120_000 },
    async () => {
      directory = await BACKENDS[backend]();
      const fixture = createTestRouter();
      // The record lands well after the connection exists: a hello sent before it would let
      // the request below reach B while no process is on record.
      const a = await startNodeServer(fixture.router, { connectionDirectory: slowToRecord(directory(), 500) });
      const b = await startNodeServer(fixture.router, { connectionDirectory: directory() });
      cleanup.push(
        () => a.close(),
        () => b.close(),
      );
      const hello = await openStream(a);
      const answer = await control(b, hello, [{ op: 'subscribe', id: 's1', path: 'idle' }]);
      expect(answer.status).toBe(204);
      await expect.poll(() => fixture.probe.started).toBe(1);
    },
  );
});

describe('a directory that does not answer', () => {
  test('the hello waits for its record at most ANNOUNCE_TIMEOUT_MS; the stream then works', async () => {
    const fixture = createTestRouter();
    let announced = 0;
    const silent: ConnectionDirectory = {
      announce: () => {
        announced++;
        return new Promise<void>(() => undefined);
      },
      withdraw: () => undefined,
      forward: () => new Promise(() => undefined),
      serve: () => undefined,
    };
    const server = await startNodeServer(fixture.router, { connectionDirectory: silent });
    cleanup.push(() => server.close());
    const opened = Date.now();
    const subscribe = encodeURIComponent(JSON.stringify([{ op: 'subscribe', id: 's1', path: 'idle' }]));
    const hello = await openStream(server, `?subscribe=${subscribe}`);
    // A lower bound only: it waited for the record (a busy machine may take longer).
    expect(Date.now() - opened).toBeGreaterThanOrEqual(ANNOUNCE_TIMEOUT_MS - 50);
    expect(announced).toBe(1);
    expect(fixture.probe.started).toBe(1);
    // Control requests that reach the owner still work.
    expect((await control(server, hello, [{ op: 'unsubscribe', id: 's1' }])).status).toBe(204);
    await expect.poll(() => fixture.probe.finished).toBe(1);
  });

  test('one that throws or rejects delays nothing', async () => {
    const fixture = createTestRouter();
    let calls = 0;
    const broken: ConnectionDirectory = {
      announce: () => {
        calls++;
        if (calls === 1) throw new Error('directory down');
        return Promise.reject(new Error('directory down'));
      },
      withdraw: () => undefined,
      forward: () => Promise.resolve(null),
      serve: () => undefined,
    };
    const server = await startNodeServer(fixture.router, { connectionDirectory: broken });
    cleanup.push(() => server.close());
    for (let i = 0; i < 2; i++) {
      const hello = await openStream(server);
      expect((await control(server, hello, [{ op: 'subscribe', id: `s${i}`, path: 'idle' }])).status).toBe(204);
    }
    expect(calls).toBe(2);
  });

  test('a client that leaves while the record is being written leaves no connection behind', async () => {
    const fixture = createTestRouter();
    let release!: () => void;
    const withdrawn: string[] = [];
    const gated: ConnectionDirectory = {
      announce: () => new Promise<void>((resolve) => (release = resolve)),
      withdraw: (id) => withdrawn.push(id),
      forward: () => Promise.resolve(null),
      serve: () => undefined,
    };
    const server = await startNodeServer(fixture.router, { connectionDirectory: gated });
    cleanup.push(() => server.close());
    const leaving = new AbortController();
    const request = fetch(`${server.url}/trpc-sse`, {
      headers: { accept: 'text/event-stream' },
      signal: leaving.signal,
    }).catch(() => null);
    await expect.poll(() => server.core.connections).toBe(1);
    leaving.abort();
    await request;
    await expect.poll(() => server.core.openStreams).toBe(0);
    release();
    await expect.poll(() => server.core.connections).toBe(0);
    expect(withdrawn).toHaveLength(1);
  });
});
