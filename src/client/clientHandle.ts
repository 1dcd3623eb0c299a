import type { Operation } from '@trpc/client';
import type { TRPCConnectionState } from '@trpc/client/unstable-internals';
import type { TRPCCombinedDataTransformer } from '@trpc/server';
import type { BehaviorSubject, Unsubscribable } from '@trpc/server/observable';
import type { AnyClientError } from './errors.js';
import type { ClientInspection, ClientRuntime } from './runtime.js';
import type { EnvelopeObserver, Transport } from './transport.js';

/** The connection a set of `sseLink`s share, like `createWSClient`'s client. */
export interface SSEClient {
  /**
   * Multiplexed: the one connection's state. Distinct: `connecting` while any subscription is
   * (re)connecting, `pending` when all are open, `idle` with none.
   */
  readonly connectionState: BehaviorSubject<TRPCConnectionState<AnyClientError>>;
  /** The mode in use: `'auto'` settles on one of the two once the server has answered. */
  readonly mode: 'auto' | 'multiplexed' | 'distinct';
  /**
   * Why the client settled on distinct mode: the server's answer to the multiplexed stream
   * (`mode: 'auto'`; e.g. `NOT_FOUND`: the route does not reach `{endpoint}/trpc-sse`), or,
   * with `data.httpStatus` 421, control requests reaching a process other than the stream's
   * (no sticky sessions, no connection directory). `null` otherwise.
   */
  readonly fallbackReason: AnyClientError | null;
  /**
   * With `share: 'tabs'`: whether this tab leads (holds the stream), follows (its subscriptions
   * ride on the leader's), is still joining, or cannot share here (`'unshared'`). `null` when
   * sharing is off.
   */
  readonly tabRole: 'joining' | 'leader' | 'follower' | 'unshared' | null;
  /**
   * Starts a subscription (what `sseLink` calls). The observer receives tRPC's envelopes;
   * `unsubscribe()` completes it, as tRPC's own links do.
   * @internal
   */
  subscribe(op: Operation, transformer: TRPCCombinedDataTransformer, observer: EnvelopeObserver): Unsubscribable;
  /**
   * One readable snapshot of the connection for a devtools panel or a support log: the mode,
   * the tab role, the connection state, streams open, the reconnect attempt and when it is
   * due, and the last error.
   */
  inspect(): SSEClientInspection;
  /** Stops every subscription (each completes) and releases the connection. */
  close(): void;
}

/** What {@link SSEClient.inspect} returns. */
export interface SSEClientInspection extends ClientInspection {
  mode: SSEClient['mode'];
  tabRole: SSEClient['tabRole'];
  connectionState: TRPCConnectionState<AnyClientError>['state'];
}

/**
 * The {@link SSEClient} over a runtime and its transport (read on every call: `auto` mode
 * swaps it when it falls back). `mode` and `fallbackReason` are read through `state`.
 */
export function clientHandle(
  runtime: ClientRuntime,
  transport: () => Transport,
  state: {
    readonly mode: SSEClient['mode'];
    readonly fallbackReason: AnyClientError | null;
    readonly tabRole?: () => SSEClient['tabRole'];
  },
): SSEClient {
  let closed = false;
  return {
    connectionState: runtime.connectionState,
    get mode() {
      return state.mode;
    },
    get fallbackReason() {
      return state.fallbackReason;
    },
    get tabRole() {
      return state.tabRole?.() ?? null;
    },
    inspect() {
      return {
        ...runtime.inspect(),
        mode: state.mode,
        tabRole: state.tabRole?.() ?? null,
        connectionState: runtime.connectionState.get().state,
      };
    },
    subscribe(op, transformer, observer) {
      if (closed) throw new Error('trpc-sse: this client is closed');
      return transport().subscribe({ op, transformer, observer });
    },
    close() {
      if (closed) return;
      closed = true;
      // The transport completes each of its subscriptions.
      transport().close();
      runtime.dispose();
    },
  };
}
