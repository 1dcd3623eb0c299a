import type { TRPCLink } from '@trpc/client';
import { getTransformer, type TransformerOptions } from '@trpc/client/unstable-internals';
import type { AnyTRPCRouter, inferTRPCClientTypes } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { createSSEClient, type CreateSSEClientOptions, type SSEClient } from './createSSEClient.js';

/** Options of {@link sseLink}: a shared `client`, or the options to make one. */
export type SSELinkOptions<TRouter extends AnyTRPCRouter> = ({ client: SSEClient } | CreateSSEClientOptions) &
  TransformerOptions<inferTRPCClientTypes<TRouter>>;

/**
 * The tRPC link: subscriptions over server-sent events. Put it where `wsLink` was, in the
 * subscription branch of a `splitLink`.
 *
 * @see https://trpc.io/docs/client/links/wsLink
 */
export function sseLink<TRouter extends AnyTRPCRouter>(opts: SSELinkOptions<TRouter>): TRPCLink<TRouter> {
  const client = 'client' in opts ? opts.client : createSSEClient(opts);
  const transformer = getTransformer(opts.transformer);
  return () =>
    ({ op }) =>
      observable((observer) => {
        if (op.type !== 'subscription') {
          throw new Error(
            `sseLink carries subscriptions only; route "${op.path}" (${op.type}) to an HTTP link with splitLink`,
          );
        }
        const subscription = client.subscribe(op, transformer, observer as never);
        return () => subscription.unsubscribe();
      });
}
