import { createDistinctTransport } from './distinct/distinctTransport.js';
import type { AnyClientError } from './errors.js';
import { MultiplexedTransport, type LazyOptions } from './multiplexed/multiplexedTransport.js';
import type { SSEClientOptions } from './options.js';
import { ClientRuntime } from './runtime.js';
import type { Transport } from './transport.js';
import { clientHandle, type SSEClient } from './clientHandle.js';
import type { TabRole, TabSharing } from './tabs/tabSharedTransport.js';

export type { LazyOptions } from './multiplexed/multiplexedTransport.js';
export type { SSEClient } from './clientHandle.js';

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
   * Multiplexed mode: when the connection is held. By default the client connects on its
   * first subscription and closes `closeMs` after the last one ends, so a client created
   * during server rendering (tRPC's `useState(() => createTRPCClient(…))` pattern) or one
   * with nothing to subscribe to opens nothing. `{ enabled: false }` connects at creation and
   * stays connected, as `createWSClient` does by default.
   * @default { enabled: true, closeMs: 0 }
   */
  lazy?: Partial<LazyOptions>;
  /**
   * The client carries on in distinct mode, one stream per subscription, for good:
   * - `mode: 'auto'` only: the server did not answer the multiplexed stream (a stock tRPC
   *   server, or a route that does not forward `{endpoint}/trpc-sse`);
   * - any multiplexed mode: a control request reached a server process other than the
   *   stream's and no connection directory could hand it over (`reason.data.httpStatus` is
   *   421): a balancer without sticky sessions. Running subscriptions move with no gap.
   * Without this callback the client warns on the console once; the reason stays readable as
   * {@link SSEClient.fallbackReason}.
   */
  onFallback?: (reason: AnyClientError) => void;
  /**
   * `tabSharing()`: one stream per browser instead of one per tab (the tabs of one origin and
   * scope elect a leader whose stream carries every tab's subscriptions). README "One stream
   * per browser".
   * @default off: one stream per tab
   */
  share?: TabSharing;
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
  const state: { mode: SSEClient['mode']; fallbackReason: AnyClientError | null; tabRole: () => TabRole | null } = {
    mode: opts.mode ?? 'auto',
    fallbackReason: null,
    tabRole: () => null,
  };
  /** What carries this tab's stream: the mode's transport (`auto` swaps in distinct mode when it falls back). */
  const carrier = (): Transport => {
    if (state.mode === 'distinct') return createDistinctTransport(runtime);
    /** Carries on in distinct mode; the multiplexed transport hands its subscriptions over. */
    const fallBack = (reason: AnyClientError, cause: FallbackCause): Transport => {
      state.mode = 'distinct';
      state.fallbackReason = reason;
      reportFallback(opts, reason, cause);
      // The probe left the state at `connecting` (or the stream is gone); distinct mode
      // reports per subscription.
      runtime.setConnectionState({ type: 'state', state: 'idle', error: null });
      current = createDistinctTransport(runtime);
      return current;
    };
    let current: Transport = new MultiplexedTransport(runtime, {
      ...(opts.lazy ? { lazy: opts.lazy } : {}),
      onOpened: () => {
        state.mode = 'multiplexed';
      },
      // The server has no multiplexed endpoint (a stock tRPC server). With `mode:
      // 'multiplexed'` that is an error the app must see (a misrouted endpoint).
      ...(state.mode === 'auto' ? { onUnsupported: (reason: AnyClientError) => fallBack(reason, 'unsupported') } : {}),
      // Control requests cannot reach the stream's process. In either mode: staying
      // multiplexed would cost a new connection per misdirected request and never work.
      onMisdirected: (reason: AnyClientError) => fallBack(reason, 'misdirected'),
    });
    return { subscribe: (request) => current.subscribe(request), close: () => current.close() };
  };
  let transport: Transport;
  if (opts.share) {
    const shared = opts.share(runtime, carrier);
    transport = shared.transport;
    state.tabRole = shared.role;
  } else {
    transport = carrier();
  }
  return clientHandle(runtime, () => transport, state);
}

/**
 * Why a client moved to distinct mode: the server has no multiplexed stream (`unsupported`),
 * or control requests reach processes other than the stream's (`misdirected`).
 */
type FallbackCause = 'unsupported' | 'misdirected';

/** Tells the app that the client settled on distinct mode: its callback, else one console warning. */
function reportFallback(opts: CreateSSEClientOptions, reason: AnyClientError, cause: FallbackCause): void {
  if (opts.onFallback) {
    try {
      opts.onFallback(reason);
    } catch {
      // The app's callback cannot stop the fallback.
    }
    return;
  }
  const { console } = globalThis as { console?: { warn(...args: unknown[]): void } };
  if (cause === 'misdirected') {
    console?.warn(
      'trpc-sse: control requests reached a server process that does not hold the stream; using one stream per subscription (distinct mode). ' +
        'Behind a balancer without sticky sessions, give the server a connection directory (trpc-sse/redis or trpc-sse/postgres) to stay multiplexed. ' +
        'Pass onFallback to silence this; the reason is client.fallbackReason.',
    );
    return;
  }
  console?.warn(
    `trpc-sse: the server did not open a multiplexed stream (${reason.message}); using one stream per subscription (distinct mode). ` +
      'If the server runs trpc-sse, make sure its route forwards {endpoint}/trpc-sse to the handler. ' +
      "Pass mode: 'distinct' (a stock tRPC server) or onFallback to silence this; the reason is client.fallbackReason.",
  );
}
