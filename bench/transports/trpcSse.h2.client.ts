/**
 * trpc-sse's client over HTTP/2: `createSSEClient` with a `fetch` that goes through undici's
 * `Agent({ allowH2: true })` (Node's own fetch speaks HTTP/1.1 only). One client is one agent,
 * so all its requests share one TLS connection, as a browser's would with an h2 origin.
 */
import { createTRPCClient } from '@trpc/client';
import { createSSEClient, sseLink, type SSEClientOptions } from 'trpc-sse/client';
import { Agent, fetch as undiciFetch } from 'undici';
import { noteConnectionError } from './diagnostics.js';
import { HOST } from './listen.js';
import { subscribeAt } from './observer.js';
import type { PinnedRouter } from './routers/pinned.js';
import type { ClientFactory } from './types.js';

/**
 * Streams one h2 session may carry at once. undici's default is 100, which 100 distinct
 * subscriptions would fill exactly (a 101st request would queue); node:http2's server
 * announces no limit, and a browser takes the server's.
 */
const MAX_CONCURRENT_STREAMS = 1000;

type FetchLike = NonNullable<SSEClientOptions['fetch']>;

export function clientFactory(port: number, mode: 'multiplexed' | 'distinct'): ClientFactory {
  const url = `https://${HOST}:${port}/trpc`;
  return () => {
    const agent = new Agent({
      allowH2: true,
      maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
      // The bench's self-signed certificate (tls.ts).
      connect: { rejectUnauthorized: false },
    });
    const fetch = ((input, init) => undiciFetch(input, { ...init, dispatcher: agent })) as FetchLike;
    const sse = createSSEClient({ url, mode, fetch, onError: noteConnectionError });
    const trpc = createTRPCClient<PinnedRouter>({ links: [sseLink({ client: sse })] });
    return {
      subscribe: (path, input, h) => subscribeAt(trpc, path, input, h),
      close: () => {
        sse.close();
        void agent.close();
      },
    };
  };
}
