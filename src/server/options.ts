import type { AnyTRPCRouter, inferRouterContext, TRPCError } from '@trpc/server';
import type { TRPCRequestInfo } from '@trpc/server/http';
import type { ConnectionDirectory } from './multiplexed/directory.js';

/** Arguments of {@link SSEServerOptions.onError}, as tRPC's own `onError` receives them. */
export interface SSEErrorHandlerOptions<TRouter extends AnyTRPCRouter, TRequest> {
  error: TRPCError;
  type: 'query' | 'mutation' | 'subscription' | 'unknown';
  path: string | undefined;
  input: unknown;
  ctx: inferRouterContext<TRouter> | undefined;
  req: TRequest;
}

/** Options every adapter shares. */
export interface SSEServerOptions<TRouter extends AnyTRPCRouter, TRequest> {
  /** The tRPC router to serve. */
  router: TRouter;
  /** Called once for every failure, with where it happened. */
  onError?: (opts: SSEErrorHandlerOptions<TRouter, TRequest>) => void;
  /**
   * Longest silence on an idle stream, in ms: a `ping` event is sent when nothing else was.
   * Keeps proxies and load balancers from cutting idle connections.
   * @default 10_000 (or the router's `sse.ping.intervalMs` when `sse.ping.enabled`); when that
   * is not below `reconnectAfterInactivityMs`, a third of it (given explicitly, it must be)
   */
  heartbeatMs?: number;
  /**
   * Sent to clients in the `connected` event: a client that hears nothing (not even a ping)
   * for this long treats the connection as dead and reconnects. `0` sends no hint.
   * @default the router's `sse.client.reconnectAfterInactivityMs`, else 3 × `heartbeatMs`
   */
  reconnectAfterInactivityMs?: number;
  /**
   * Distinct mode: the reconnection delay advised to clients, in ms, as the SSE `retry:` field
   * of the first event. A browser `EventSource` or the `eventsource` package waits this long
   * after a dropped stream (their own default is about 3 s); trpc-sse's client uses it as the
   * floor of its jittered backoff.
   * @default 500 (the floor of trpc-sse's client backoff)
   */
  retryMs?: number;
  /**
   * Longest life of one stream, in ms; then it ends without `return`, so the client reconnects
   * and resumes (for serverless time limits and connection rebalancing). `0` = unlimited.
   * @default the router's `sse.maxDurationMs`, else 0
   */
  maxDurationMs?: number;
  /**
   * Bytes a stream may have queued for a slow reader. Async generators wait for the socket to
   * drain and never reach it; observables cannot wait, so past it the stream is cut off
   * without `return` (what is still queued is dropped, so a peer that does not read keeps
   * nothing) and the client reconnects and resumes from its last tracked id.
   * @default 4_194_304 (4 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Event streams one server (one handler) keeps open at once. Past it, a new stream is
   * answered in-band with `SERVICE_UNAVAILABLE`, which clients retry with backoff (or
   * elsewhere, behind a load balancer), instead of exhausting memory or file descriptors.
   * @default 20_000
   */
  maxStreams?: number;
  /**
   * Largest `input` (the query parameter, in characters) a subscription request may carry;
   * larger ones fail with `PAYLOAD_TOO_LARGE`.
   * @default 65_536
   */
  maxInputLength?: number;
  /**
   * Longest accepted `Last-Event-ID`; longer ones, or ones with control characters (below
   * U+0020, or U+007F), fail with `BAD_REQUEST`. Tracked ids the server writes obey the same
   * rule: a procedure emitting one that breaks it fails with `INTERNAL_SERVER_ERROR` at once,
   * as no client could resume from it.
   * @default 1_024
   */
  maxLastEventIdLength?: number;
  /**
   * Multiplexed mode: how long a connection outlives its broken stream, in ms, so a client
   * that comes back resumes it (every frame it missed replayed, no procedure re-run). `0`
   * ends the connection with its stream.
   * @default 10_000
   */
  graceMs?: number;
  /**
   * Multiplexed mode: the most recent frames a connection keeps for that replay, in
   * characters. A client that missed more than this subscribes afresh from its tracked ids.
   * @default 131_072 (128 KiB)
   */
  replayBufferBytes?: number;
  /**
   * Multiplexed mode: subscriptions one connection may hold; more fail with `TOO_MANY_REQUESTS`.
   * @default 100
   */
  maxSubscriptionsPerConnection?: number;
  /**
   * Multiplexed mode: largest control request body, in bytes; larger → `PAYLOAD_TOO_LARGE`.
   * @default 65_536
   */
  maxControlBodyBytes?: number;
  /**
   * Multiplexed mode: control requests in flight at once per connection; more →
   * `TOO_MANY_REQUESTS` (a client batches its ops, so it never needs many).
   * @default 8
   */
  maxPendingControlRequests?: number;
  /**
   * Multiplexed mode across several processes: where connections live, so a control request
   * that reaches another process than the stream's is handed to its owner (no sticky sessions).
   * `createRedisConnectionDirectory` from `trpc-sse/redis`. Without it, a control request for
   * a connection held elsewhere answers 404 and the client opens a new connection.
   */
  connectionDirectory?: ConnectionDirectory;
  /**
   * Carry `Uint8Array` values (Buffers included) as tagged base64 to clients that revive
   * them (trpc-sse's own, which say so in their `Accept` header); other clients get what
   * tRPC's own server would send. `false` never tags (skips the walk over each value).
   * @default true
   */
  binary?: boolean;
}

/** What the core needs: the shared options minus the per-request `onError`, which adapters bind. */
export type SSECoreOptions = Omit<SSEServerOptions<AnyTRPCRouter, never>, 'onError'>;

/** `createContext` as the core calls it: the adapter has already bound its request objects. */
export type BoundCreateContext = (info: TRPCRequestInfo) => Promise<unknown>;

/** The per-request part an adapter hands to the core. */
export interface RequestHooks {
  createContext: BoundCreateContext;
  onError: (opts: Omit<SSEErrorHandlerOptions<AnyTRPCRouter, unknown>, 'req'>) => void;
  /** True on HTTP/2, where hop-by-hop headers such as `Connection` are forbidden. */
  http2: boolean;
}

/** Defaults of {@link SSEServerOptions}, exported for documentation and tests. */
export const SSE_SERVER_DEFAULTS = {
  heartbeatMs: 10_000,
  retryMs: 500,
  maxStreams: 20_000,
  graceMs: 10_000,
  replayBufferBytes: 128 * 1024,
  maxSubscriptionsPerConnection: 100,
  maxControlBodyBytes: 64 * 1024,
  maxPendingControlRequests: 8,
  maxBufferedBytes: 4 * 1024 * 1024,
  maxInputLength: 64 * 1024,
  maxLastEventIdLength: 1024,
  binary: true,
} as const;
