/**
 * tRPC's stock SSE client: `httpSubscriptionLink` of the newest @trpc/client, with the
 * `eventsource` package's EventSource (Node 20 has none). Each subscription is its own stream.
 */
import { EventSource } from 'eventsource';
import { createTRPCClient, httpSubscriptionLink } from 'trpc-latest/client';
import { HOST } from './listen.js';
import { subscribeAt } from './observer.js';
import type { LatestRouter } from './routers/latest.js';
import type { ClientFactory } from './types.js';

export function clientFactory(port: number): ClientFactory {
  const url = `http://${HOST}:${port}`;
  return () => {
    const trpc = createTRPCClient<LatestRouter>({
      links: [httpSubscriptionLink({ url, EventSource })],
    });
    return {
      subscribe: (path, input, h) => subscribeAt(trpc, path, input, h),
      close: () => undefined,
    };
  };
}
