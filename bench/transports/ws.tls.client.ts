/** tRPC's `createWSClient` + `wsLink` over wss://; one client is one WebSocket. */
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import WebSocket from 'ws';
import { HOST } from './listen.js';
import { subscribeAt } from './observer.js';
import type { PinnedRouter } from './routers/pinned.js';
import type { ClientFactory } from './types.js';

/** `ws`, accepting the bench's self-signed certificate (tls.ts); tRPC constructs it with the URL alone. */
class BenchWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, { rejectUnauthorized: false });
  }
}

export function clientFactory(port: number): ClientFactory {
  const url = `wss://${HOST}:${port}`;
  return () => {
    const wsClient = createWSClient({ url, WebSocket: BenchWebSocket as unknown as typeof globalThis.WebSocket });
    const trpc = createTRPCClient<PinnedRouter>({ links: [wsLink({ client: wsClient })] });
    return {
      subscribe: (path, input, h) => subscribeAt(trpc, path, input, h),
      close: () => void wsClient.close(),
    };
  };
}
