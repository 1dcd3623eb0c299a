import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback TCP proxy a test can cut: `cutAll()` destroys every open connection at once,
 * as a network drop would (no FIN from the server, no `return` event).
 */
export interface ChaosProxy {
  port: number;
  /** Number of connections opened through the proxy so far. */
  readonly connections: number;
  cutAll(): void;
  /** While blocked, new connections are dropped at once (the server looks unreachable). */
  blocked: boolean;
  close(): Promise<void>;
}

export async function startChaosProxy(upstreamPort: () => number): Promise<ChaosProxy> {
  const open = new Set<Socket>();
  let connections = 0;
  const state = { blocked: false };
  const server: Server = createServer((client) => {
    if (state.blocked) {
      client.destroy();
      return;
    }
    connections++;
    const upstream = connect(upstreamPort(), '127.0.0.1');
    open.add(client);
    open.add(upstream);
    const teardown = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    get blocked() {
      return state.blocked;
    },
    set blocked(value: boolean) {
      state.blocked = value;
    },
    cutAll() {
      for (const socket of [...open]) socket.destroy();
      open.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
