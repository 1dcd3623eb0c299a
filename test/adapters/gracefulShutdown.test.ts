/**
 * A deploy: the old process gets SIGTERM while a new one is already up behind the same
 * (loopback) load balancer. Clients hand over to the new process with no gap and no
 * duplicate, and the old process exits cleanly.
 */
import { createTRPCClient } from '@trpc/client';
import { afterEach, expect, test } from 'vitest';
import { createSSEClient, sseLink } from '../../src/client/index.js';
import { startChaosProxy, type ChaosProxy } from '../helpers/chaosProxy.js';
import { Collector } from '../helpers/collector.js';
import { startServerProcess, type ServerProcess } from '../helpers/processes.js';
import type { TestRouter } from '../helpers/router.js';

const processes: ServerProcess[] = [];
let proxy: ChaosProxy | undefined;
const clients: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const child of processes.splice(0)) await child.kill();
  await proxy?.close();
});

/**
 * The drain window: clients are asked to move within its first three quarters and must have
 * opened their new connection by its end, a margin (1 s) that a busy machine's late timers fit.
 */
const DRAIN_MS = 4_000;
/**
 * The counter runs for at least 8 s of the old process's own timers, twice the drain window:
 * every subscription is still running when its client is asked to move, so each one moves.
 */
const TOTAL = 800;
const INTERVAL_MS = 10;

test(
  'SIGTERM drains every client to the new process; nothing lost, nothing repeated, no gap',
  { timeout: 60_000 },
  async () => {
    // Both processes are up before any client connects: started after the subscriptions, the
    // new one could take longer to boot (on a busy machine) than they take to finish.
    const old = await startServerProcess(0, { GRACEFUL_DRAIN_MS: String(DRAIN_MS) });
    processes.push(old);
    const next = await startServerProcess(0);
    processes.push(next);
    let upstream = old.port;
    proxy = await startChaosProxy(() => upstream);
    const total = TOTAL;
    const collectors = Array.from({ length: 20 }, () => {
      const sse = createSSEClient({
        url: `http://127.0.0.1:${proxy!.port}/trpc`,
        mode: 'multiplexed',
        retry: { minDelayMs: 5, maxDelayMs: 50 },
      });
      clients.push(sse);
      const states: string[] = [];
      const errors: string[] = [];
      sse.connectionState.subscribe({
        next: (s) => {
          states.push(s.state);
          if (s.error) errors.push(s.error.message);
        },
      });
      const c = new Collector<{ id: string; data: { n: number } }>();
      createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] }).counter.subscribe(
        { count: total, intervalMs: INTERVAL_MS },
        c.handlers(),
      );
      return { c, states, errors };
    });
    await Promise.all(collectors.map(({ c }) => c.untilData(20)));

    // The balancer sends new connections to the new release; the old one is told to go.
    upstream = next.port;
    const exitCode = await old.terminate();
    expect(exitCode).toBe(0);

    await Promise.all(collectors.map(({ c }) => c.until(() => c.completed, 'completion', 40_000)));
    for (const { c, states, errors } of collectors) {
      expect(c.errors).toEqual([]);
      expect(c.data.map((d) => d.data.n)).toEqual(Array.from({ length: total }, (_, i) => i));
      // No gap: the client never lost its connection while it moved.
      expect(states.slice(states.indexOf('pending')), errors.join('; ')).not.toContain('connecting');
    }
  },
);

test('once shutting down, every HTTP/1.1 answer of the Node handler says Connection: close', async () => {
  const { request } = await import('node:http');
  const { createTestRouter } = await import('../helpers/router.js');
  const { startNodeServer } = await import('../helpers/servers.js');
  const server = await startNodeServer(createTestRouter().router);
  clients.push({ close: () => void server.close() });
  /** The `connection` header of a GET to `path` (the body is not waited for). */
  const connectionHeader = (path: string, headers: Record<string, string> = {}): Promise<string | undefined> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
        resolve(res.headers.connection);
        res.destroy();
      });
      req.on('error', reject);
      req.end();
    });
  const stream = { accept: 'text/event-stream' };
  expect(await connectionHeader('/trpc/idle', stream)).toBe('keep-alive');
  expect(await connectionHeader('/trpc/hello')).toBe('keep-alive');
  server.core.drain({ withinMs: 0, refuseNew: true });
  // A refused stream (answered in-band, as stock clients need), a multiplexed one, a query.
  expect(await connectionHeader('/trpc/idle', stream)).toBe('close');
  expect(await connectionHeader('/trpc/trpc-sse', stream)).toBe('close');
  expect(await connectionHeader('/trpc/hello')).toBe('close');
});
