import type { Operation } from '@trpc/client';
import type { TRPCConnectionState } from '@trpc/client/unstable-internals';
import type { TRPCCombinedDataTransformer } from '@trpc/server';
import type { Observable, Unsubscribable } from '@trpc/server/observable';
import { DistinctSubscription, type EnvelopeObserver } from './distinctSubscription.js';
import type { AnyClientError } from './errors.js';
import type { SSEClientOptions } from './options.js';
import { ClientRuntime } from './runtime.js';

/** The connection a set of `sseLink`s share, like `createWSClient`'s client. */
export interface SSEClient {
  /** `idle` with no subscriptions, `connecting` while any is (re)connecting, else `pending`. */
  readonly connectionState: Observable<TRPCConnectionState<AnyClientError>, never>;
  /**
   * Starts a subscription (what `sseLink` calls). The observer receives tRPC's envelopes.
   * @internal
   */
  subscribe(op: Operation, transformer: TRPCCombinedDataTransformer, observer: EnvelopeObserver): Unsubscribable;
  /** Stops every subscription (each completes) and releases the client. */
  close(): void;
}

/**
 * Creates the client side of trpc-sse.
 *
 * @example
 * ```ts
 * const sse = createSSEClient({ url: '/trpc', headers: async () => ({ authorization: await token() }) });
 * const trpc = createTRPCClient<AppRouter>({
 *   links: [splitLink({ condition: (op) => op.type === 'subscription', true: sseLink({ client: sse }), false: httpBatchLink({ url: '/trpc' }) })],
 * });
 * ```
 * @see https://trpc.io/docs/client/links/wsLink
 */
export function createSSEClient(opts: SSEClientOptions): SSEClient {
  const runtime = new ClientRuntime(opts);
  const live = new Set<{ sub: DistinctSubscription; observer: EnvelopeObserver }>();
  let closed = false;
  return {
    connectionState: runtime.connectionState,
    subscribe(op, transformer, observer) {
      if (closed) throw new Error('trpc-sse: this client is closed');
      const entry = { sub: new DistinctSubscription(runtime, op, transformer, observer), observer };
      live.add(entry);
      entry.sub.start();
      return {
        unsubscribe() {
          live.delete(entry);
          entry.sub.stop();
        },
      };
    },
    close() {
      if (closed) return;
      closed = true;
      for (const entry of live) {
        entry.sub.stop();
        entry.observer.next({ result: { type: 'stopped' } });
        entry.observer.complete();
      }
      live.clear();
      runtime.dispose();
    },
  };
}
