import type { TRPCLink } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import type { SSEClient } from './clientHandle.js';
import { createSSEClient, type CreateSSEClientOptions } from './createSSEClient.js';
import { linkOver, type LinkTransformerOptions } from './linkOver.js';

/** Options of {@link sseLink}: a shared `client`, or the options to make one. */
export type SSELinkOptions<TRouter extends AnyTRPCRouter> = ({ client: SSEClient } | CreateSSEClientOptions) &
  LinkTransformerOptions<TRouter>;

/**
 * The tRPC link: subscriptions over server-sent events. Put it where `wsLink` was, in the
 * subscription branch of a `splitLink`.
 *
 * @see https://trpc.io/docs/client/links/wsLink
 */
export function sseLink<TRouter extends AnyTRPCRouter>(opts: SSELinkOptions<TRouter>): TRPCLink<TRouter> {
  return linkOver('client' in opts ? opts.client : createSSEClient(opts), opts);
}
