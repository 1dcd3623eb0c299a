/** trpc-sse's client: `createSSEClient` + `sseLink` in a stock `createTRPCClient`. */
import { createTRPCClient } from '@trpc/client';
import { createSSEClient, sseLink } from 'trpc-sse/client';
import { noteConnectionError } from './diagnostics.js';
import { HOST } from './listen.js';
import { subscribeAt } from './observer.js';
import type { PinnedRouter } from './routers/pinned.js';
import type { ClientFactory } from './types.js';

export function clientFactory(port: number, mode: 'multiplexed' | 'distinct'): ClientFactory {
  const url = `http://${HOST}:${port}/trpc`;
  return () => {
    const sse = createSSEClient({ url, mode, onError: noteConnectionError });
    const trpc = createTRPCClient<PinnedRouter>({ links: [sseLink({ client: sse })] });
    return {
      subscribe: (path, input, h) => subscribeAt(trpc, path, input, h),
      close: () => sse.close(),
    };
  };
}
