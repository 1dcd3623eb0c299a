/**
 * A deploy on a fetch runtime: Hono on `@hono/node-server`, the tRPC endpoint mounted at
 * `/trpc/*` through `createSSEFetchHandler`. The old process gets SIGTERM while a new one is
 * already up behind the same loopback balancer; clients of both wire modes move to the new
 * one with nothing lost and nothing repeated, and the old process exits by itself. Three ways
 * of wiring the shutdown, as the README describes them: `installGracefulShutdown` with the
 * listener (Hono on Node), with the listener left to the framework (`next start`), and a
 * hand-written signal handler around `drainForShutdown` (Bun, Deno), where nothing may be
 * left holding the process once the drain is done.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTRPCClient } from '@trpc/client';
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  createSSEFetchHandler,
  drainForShutdown,
  installGracefulShutdown,
  sseFetchHandler,
} from '../../src/adapters/fetch.js';
import { createSSEClient, sseLink } from '../../src/client/index.js';
import { MUX_PATH } from '../../src/protocol.js';
import { startChaosProxy, type ChaosProxy } from '../helpers/chaosProxy.js';
import { Collector } from '../helpers/collector.js';
import { createTestRouter, type TestRouter } from '../helpers/router.js';

const SCRIPT = fileURLToPath(new URL('../fixtures/honoServerProcess.ts', import.meta.url));

interface HonoProcess {
  port: number;
  /** Every line the process printed so far. */
  lines: string[];
  /** Inputs of the `counter` subscriptions it started. */
  readonly starts: Array<{ count: number; lastEventId?: string | null }>;
  /** SIGTERM, as a deploy sends; resolves once the process has exited by itself. */
  terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): Promise<void>;
}

function startHonoProcess(env: Record<string, string>): Promise<HonoProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    let buffered = '';
    let listening = false;
    void exited.then(({ code }) => {
      if (!listening) reject(new Error(`hono server process exited with ${code}: ${lines.join('\n')}`));
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const complete = buffered.split('\n');
      buffered = complete.pop()!;
      lines.push(...complete);
      const match = listening ? null : /^listening (\d+)$/m.exec(complete.join('\n'));
      if (!match) return;
      listening = true;
      resolve({
        port: Number(match[1]),
        lines,
        get starts() {
          return lines
            .filter((line) => line.startsWith('started '))
            .map((line) => JSON.parse(line.slice('started '.length)) as { count: number; lastEventId?: string | null });
        },
        terminate: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return exited;
        },
        kill: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          return exited.then(() => undefined);
        },
      });
    });
  });
}

const processes: HonoProcess[] = [];
const clients: Array<{ close(): void }> = [];
let proxy: ChaosProxy | undefined;
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const child of processes.splice(0)) await child.kill();
  await proxy?.close();
  proxy = undefined;
});

/**
 * Long enough (≥ 5 s of the old process's own timers) that every subscription outlives its 2 s
 * drain window, at whose end every stream still there is closed: so each one moves, by itself
 * or at the deadline, and resumes on the new process. A slow machine slows both alike.
 */
const TOTAL = 500;
const INTERVAL_MS = 10;
const CLIENTS_PER_MODE = 4;

const wirings = [
  { name: 'installGracefulShutdown({ server, cores: [handler] })', shutdown: 'install' },
  {
    name: "the framework's own listener close, plus installGracefulShutdown({ cores: [handler], exit: false })",
    shutdown: 'host',
  },
  {
    name: 'a signal handler around drainForShutdown(handler); the process ends with nothing left running',
    shutdown: 'drain',
  },
] as const;

test.each(wirings)(
  'SIGTERM with $name: every client moves to the next process, nothing lost or repeated',
  { timeout: 60_000 },
  async ({ shutdown }) => {
    // Both releases are up before any client connects: started after the subscriptions, the new
    // one could take longer to boot (on a busy machine) than they take to finish on the old one.
    const old = await startHonoProcess({ SHUTDOWN: shutdown, DRAIN_MS: '2000' });
    processes.push(old);
    const next = await startHonoProcess({});
    processes.push(next);
    let upstream = old.port;
    proxy = await startChaosProxy(() => upstream);
    const url = `http://127.0.0.1:${proxy.port}/trpc`;

    const subscriptions = (['multiplexed', 'distinct'] as const).flatMap((mode) =>
      Array.from({ length: CLIENTS_PER_MODE }, () => {
        const sse = createSSEClient({ url, mode, retry: { minDelayMs: 5, maxDelayMs: 50 } });
        clients.push(sse);
        const errors: string[] = [];
        sse.connectionState.subscribe({ next: (s) => s.error && errors.push(s.error.message) });
        const c = new Collector<{ id: string; data: { n: number } }>();
        createTRPCClient<TestRouter>({ links: [sseLink({ client: sse })] }).counter.subscribe(
          { count: TOTAL, intervalMs: INTERVAL_MS },
          c.handlers(),
        );
        return { mode, c, errors };
      }),
    );
    await Promise.all(subscriptions.map(({ c }) => c.untilData(10)));

    // The balancer sends new connections to the new release; the old one is told to go.
    upstream = next.port;
    const exit = await old.terminate();
    expect(exit, old.lines.join('\n')).toEqual({ code: 0, signal: null });
    if (shutdown === 'drain') expect(old.lines.some((line) => /^drained \d+$/.test(line))).toBe(true);

    await Promise.all(subscriptions.map(({ c }) => c.until(() => c.completed, 'completion', 40_000)));
    for (const { mode, c, errors } of subscriptions) {
      expect(c.errors, `${mode}: ${errors.join('; ')}`).toEqual([]);
      // Every tracked id exactly once, in order.
      expect(c.data.map((d) => d.id)).toEqual(Array.from({ length: TOTAL }, (_, n) => String(n)));
      expect(c.data.map((d) => d.data.n)).toEqual(Array.from({ length: TOTAL }, (_, n) => n));
    }
    // Each subscription ran once on the old process, then resumed once on the new one from a tracked id.
    expect(old.starts).toHaveLength(subscriptions.length);
    expect(old.starts.every((input) => input.lastEventId == null)).toBe(true);
    expect(next.starts).toHaveLength(subscriptions.length);
    for (const input of next.starts) expect(input.lastEventId).toMatch(/^\d+$/);
  },
);

describe('drainForShutdown and installGracefulShutdown on a fetch handler, in process', () => {
  const { router } = createTestRouter();

  /** Opens the multiplexed stream and reads it to its end; `first` resolves with the first chunk. */
  async function openMuxStream(handler: (req: Request) => Promise<Response>) {
    const response = await handler(
      new Request(`http://app.test/trpc/${MUX_PATH}`, { headers: { accept: 'text/event-stream' } }),
    );
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const first = await reader.read();
    text += decoder.decode(first.value, { stream: true });
    const ended = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return text;
        text += decoder.decode(value, { stream: true });
      }
    })();
    return { response, firstChunk: text, ended };
  }

  test('a client that ignores the request to move is closed at the deadline, and counted', async () => {
    const handler = createSSEFetchHandler({ router, endpoint: '/trpc' });
    const stream = await openMuxStream(handler);
    expect(stream.firstChunk).toContain('event: connection');
    expect(handler.core.openStreams).toBe(1);

    const outcome = await drainForShutdown(handler, { drainMs: 100 });
    expect(outcome).toEqual({ closedAtDeadline: 1 });
    expect(handler.core.openStreams).toBe(0);
    // It was asked to move first, then closed.
    expect(await stream.ended).toContain('event: reconnect');
    // It started before the shutdown: its answer kept its connection.
    expect(stream.response.headers.get('connection')).not.toBe('close');
  });

  test('once shutting down, new streams are refused and every answer asks for a new connection', async () => {
    const handler = createSSEFetchHandler({ router, endpoint: '/trpc' });
    const query = () => handler(new Request('http://app.test/trpc/hello'));
    const before = await query();
    expect(before.status).toBe(200);
    expect(before.headers.get('connection')).toBeNull();

    expect(handler.core.shuttingDown).toBe(false);
    await drainForShutdown(handler, { drainMs: 0 });
    expect(handler.core.shuttingDown).toBe(true);

    const after = await query();
    expect(await after.json()).toMatchObject({ result: { data: 'hello world' } });
    expect(after.headers.get('connection')).toBe('close');
    const refused = await handler(
      new Request(`http://app.test/trpc/${MUX_PATH}`, { headers: { accept: 'text/event-stream' } }),
    );
    expect(refused.status).toBe(503);
    expect(refused.headers.get('connection')).toBe('close');
    await refused.body?.cancel();
    const distinct = await handler(
      new Request('http://app.test/trpc/counter?input=%7B%22count%22%3A1%7D', {
        headers: { accept: 'text/event-stream' },
      }),
    );
    expect(await distinct.text()).toContain('shutting down');
    expect(distinct.headers.get('connection')).toBe('close');
  });

  test('a second drain of the same core joins the first', async () => {
    const handler = createSSEFetchHandler({ router, endpoint: '/trpc' });
    const stream = await openMuxStream(handler);
    const drain = vi.spyOn(handler.core, 'drain');
    const [first, second] = await Promise.all([
      drainForShutdown(handler, { drainMs: 100 }),
      drainForShutdown([handler.core], { drainMs: 60_000 }),
    ]);
    expect(first).toEqual({ closedAtDeadline: 1 });
    expect(second).toEqual(first);
    expect(drain).toHaveBeenCalledTimes(1);
    await stream.ended;
  });

  test('installGracefulShutdown without a listener or signals: shutdown() drains, runs onShutdown once, and does not exit', async () => {
    const handler = createSSEFetchHandler({ router, endpoint: '/trpc' });
    const stream = await openMuxStream(handler);
    const onShutdown = vi.fn();
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    try {
      const installed = installGracefulShutdown({
        cores: [handler],
        signals: [],
        exit: false,
        drainMs: 100,
        onShutdown,
      });
      const running = installed.shutdown();
      expect(installed.shutdown()).toBe(running);
      await running;
      expect(onShutdown).toHaveBeenCalledTimes(1);
      expect(exit).not.toHaveBeenCalled();
      expect(handler.core.openStreams).toBe(0);
      await stream.ended;
      installed.dispose();
    } finally {
      exit.mockRestore();
    }
  });

  test('installGracefulShutdown stops a listener of each runtime: close (node:http), shutdown (Deno), stop (Bun)', async () => {
    const calls: string[] = [];
    const servers = [
      {
        close: (done?: (error?: Error) => void) => (calls.push('close'), done?.()),
        closeAllConnections: () => calls.push('closeAllConnections'),
      },
      { shutdown: () => (calls.push('shutdown'), Promise.resolve()) },
      { stop: (force?: boolean) => (calls.push(force ? 'stop(true)' : 'stop()'), Promise.resolve()) },
    ];
    for (const server of servers) {
      const handler = createSSEFetchHandler({ router, endpoint: '/trpc' });
      await installGracefulShutdown({ server, cores: [handler], signals: [], exit: false, drainMs: 0 }).shutdown();
    }
    expect(calls).toEqual(['close', 'closeAllConnections', 'shutdown', 'stop()', 'stop(true)']);
  });

  test('bad input gets a clear error', async () => {
    const perRequest = (req: Request) => sseFetchHandler({ req, router, endpoint: '/trpc' });
    await expect(drainForShutdown(perRequest as never)).rejects.toThrow(/createSSEFetchHandler/);
    const handler = createSSEFetchHandler({ router, endpoint: '/trpc' });
    await expect(drainForShutdown(handler, { drainMs: -1 })).rejects.toThrow(RangeError);
    expect(() => installGracefulShutdown({ cores: [{} as never], signals: [], exit: false })).toThrow(TypeError);
    expect(() => installGracefulShutdown({ cores: [handler], server: {} as never, signals: [], exit: false })).toThrow(
      /close\(\)/,
    );
    expect(() => installGracefulShutdown({ cores: [handler], drainMs: Number.NaN, signals: [], exit: false })).toThrow(
      RangeError,
    );
    // The core is the handler's, and stays so.
    expect(() => Object.assign(handler, { core: createSSEFetchHandler({ router, endpoint: '/trpc' }).core })).toThrow(
      TypeError,
    );
  });
});
