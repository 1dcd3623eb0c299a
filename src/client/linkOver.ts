import type { TRPCLink } from '@trpc/client';
import { getTransformer, type TransformerOptions } from '@trpc/client/unstable-internals';
import type { AnyTRPCRouter, inferTRPCClientTypes } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import type { SSEClient } from './clientHandle.js';

/** The link's `transformer` option, as tRPC's own links take it. */
export type LinkTransformerOptions<TRouter extends AnyTRPCRouter> = TransformerOptions<inferTRPCClientTypes<TRouter>>;

/**
 * A tRPC link that carries each subscription through `client` (the `sseLink`s of both entry
 * points are this, over their own client).
 */
export function linkOver<TRouter extends AnyTRPCRouter>(
  client: SSEClient,
  opts: LinkTransformerOptions<TRouter>,
): TRPCLink<TRouter> {
  const transformer = getTransformer(opts.transformer);
  return () =>
    ({ op }) =>
      observable((observer) => {
        if (op.type !== 'subscription') {
          throw new Error(
            `sseLink carries subscriptions only; route "${op.path}" (${op.type}) to an HTTP link with splitLink`,
          );
        }
        const subscription = client.subscribe(op, transformer, observer);
        return () => subscription.unsubscribe();
      });
}
