import type { Operation } from '@trpc/client';
import type { TRPCConnectionState } from '@trpc/client/unstable-internals';
import type { TRPCCombinedDataTransformer } from '@trpc/server';
import type { Observable, Unsubscribable } from '@trpc/server/observable';
import type { EnvelopeObserver } from './distinctSubscription.js';
import { createDistinctTransport } from './distinctTransport.js';
import type { AnyClientError } from './errors.js';
import { MultiplexedTransport, type LazyOptions } from './multiplexed/multiplexedTransport.js';
import type { SSEClientOptions } from './options.js';
import { ClientRuntime } from './runtime.js';
import type { Transport } from './transport.js';

export type { LazyOptions } from './multiplexed/multiplexedTransport.js';

/** Options of {@link createSSEClient}. */
export interface CreateSSEClientOptions extends SSEClientOptions {
  /**
   * `'multiplexed'`: one stream carries every subscription (PROTOCOL.md §2).
   * `'distinct'`: one stream per subscription, tRPC's own dialect (works against stock tRPC servers).
   * `'auto'`: multiplexed when the server offers it, else distinct.
   * @default 'auto'
   */
  mode?: 'auto' | 'multiplexed' | 'distinct';
  /**
   * Multiplexed mode: connect on the first subscription and close `closeMs` after the last
   * one ends, instead of staying connected from creation.
   * @default { enabled: false, closeMs: 0 }
   */
  lazy?: Partial<LazyOptions>;
}

/** The connection a set of `sseLink`s share, like `createWSClient`'s client. */
export interface SSEClient {
  /**
   * Multiplexed: the one connection's state. Distinct: `connecting` while any subscription is
   * (re)connecting, `pending` when all are open, `idle` with none.
   */
  readonly connectionState: Observable<TRPCConnectionState<AnyClientError>, never>;
  /** The mode in use: `'auto'` settles on one of the two once the server has answered. */
  readonly mode: 'auto' | 'multiplexed' | 'distinct';
  /**
   * Starts a subscription (what `sseLink` calls). The observer receives tRPC's envelopes.
   * @internal
   */
  subscribe(op: Operation, transformer: TRPCCombinedDataTransformer, observer: EnvelopeObserver): Unsubscribable;
  /** Stops every subscription (each completes) and releases the connection. */
  close(): void;
}

interface Entry {
  op: Operation;
  transformer: TRPCCombinedDataTransformer;
  observer: EnvelopeObserver;
  inner: Unsubscribable | undefined;
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
export function createSSEClient(opts: CreateSSEClientOptions): SSEClient {
  const runtime = new ClientRuntime(opts);
  const entries = new Set<Entry>();
  let mode: SSEClient['mode'] = opts.mode ?? 'auto';
  let closed = false;
  let transport: Transport;

  const distinct = (): Transport => createDistinctTransport(runtime);
  const track = (entry: Entry): EnvelopeObserver => ({
    next: (envelope) => entry.observer.next(envelope),
    error: (error) => {
      entries.delete(entry);
      entry.observer.error(error);
    },
    complete: () => {
      entries.delete(entry);
      entry.observer.complete();
    },
  });

  if (mode === 'distinct') {
    transport = distinct();
  } else {
    transport = new MultiplexedTransport(runtime, {
      ...(opts.lazy ? { lazy: opts.lazy } : {}),
      onOpened: () => {
        mode = 'multiplexed';
      },
      ...(mode === 'auto'
        ? {
            // The server has no multiplexed endpoint (a stock tRPC server): carry on in
            // distinct mode, with the subscriptions made so far.
            onUnsupported: () => {
              mode = 'distinct';
              // The probe left the state at `connecting`; distinct mode reports per subscription.
              runtime.setConnectionState({ type: 'state', state: 'idle', error: null });
              transport = distinct();
              for (const entry of entries) entry.inner = transport.subscribe(entry.op, entry.transformer, track(entry));
            },
          }
        : {}),
    });
  }

  return {
    connectionState: runtime.connectionState,
    get mode() {
      return mode;
    },
    subscribe(op, transformer, observer) {
      if (closed) throw new Error('trpc-sse: this client is closed');
      const entry: Entry = { op, transformer, observer, inner: undefined };
      entries.add(entry);
      entry.inner = transport.subscribe(op, transformer, track(entry));
      return {
        unsubscribe() {
          entries.delete(entry);
          entry.inner?.unsubscribe();
        },
      };
    },
    close() {
      if (closed) return;
      closed = true;
      // Each transport completes its own subscriptions.
      transport.close();
      entries.clear();
      runtime.dispose();
    },
  };
}
