/**
 * One case = a fresh server process and a fresh client process, stopped afterwards whatever
 * happened. A failure becomes the case's result (`{ error }`), so one broken transport does
 * not stop the run.
 */
import { createServer } from 'node:net';
import { forkChild, type Child } from '../lib/child.js';
import { sleep } from '../lib/clock.js';
import type { TransportInfo } from '../transports/registry.js';

export interface CaseError {
  error: string;
  stderr?: string;
}

/** Children end themselves after this even if the orchestrator hangs. */
const CHILD_LIFETIME_MS = 300_000;

function forkServer(t: TransportInfo, env: Record<string, string | number> = {}): Child {
  const vars: Record<string, string> = { BENCH_LIFETIME_MS: String(CHILD_LIFETIME_MS) };
  for (const [k, v] of Object.entries(env)) vars[k] = String(v);
  return forkChild('server.ts', [t.server], vars);
}

/** Forks a server and waits until it listens (stopping it if it never does). */
export async function startServerChild(t: TransportInfo, env: Record<string, string | number> = {}) {
  const child = forkServer(t, env);
  try {
    const { port } = (await child.ready) as { port: number };
    return { child, port };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

export function startClientChild(t: TransportInfo, port: number): Child {
  return forkChild('client.ts', [t.id, String(port)], { BENCH_LIFETIME_MS: String(CHILD_LIFETIME_MS) });
}

/** A port that is free now, so server and client can be forked at the same time (the server retries if it is taken). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export async function withPair<T extends object>(
  t: TransportInfo,
  serverEnv: Record<string, string | number>,
  run: (server: Child, client: Child) => Promise<T>,
): Promise<T | CaseError> {
  let server: Child | undefined;
  let client: Child | undefined;
  try {
    // Both processes start at once (each takes ~0.5 s to load); the client connects only when told.
    const port = await freePort();
    server = forkServer(t, { ...serverEnv, BENCH_PORT: port });
    client = startClientChild(t, port);
    await Promise.all([server.ready, client.ready]);
    const result = await run(server, client);
    // trpc-sse only: connection failures its client reported (none expected outside the storm).
    if (t.server !== 'trpc-sse') return result;
    return { ...result, ...(await client.call<object>('diagnostics')) };
  } catch (error) {
    const stderr = [client?.stderrTail(), server?.stderrTail()].filter(Boolean).join('\n').slice(-1500);
    return {
      error: (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300),
      ...(stderr ? { stderr } : {}),
    };
  } finally {
    await client?.stop();
    await server?.stop();
  }
}

/** Polls the server until it holds exactly `n` live subscriptions. */
export async function waitForSubscribers(server: Child, n: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = -1;
  while (Date.now() < deadline) {
    seen = await server.call<number>('subs');
    if (seen === n) return;
    await sleep(50);
  }
  throw new Error(`server holds ${seen} subscriptions, expected ${n}`);
}

export const cpuDeltaUs = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): number => b.user - a.user + (b.system - a.system);
