import type { AnyTRPCRouter } from '@trpc/server';
import { SSE_SERVER_DEFAULTS, type SSECoreOptions } from './options.js';

/** {@link SSEServerOptions} with every default applied and checked. */
export interface ResolvedServerOptions {
  router: AnyTRPCRouter;
  heartbeatMs: number;
  reconnectAfterInactivityMs: number;
  retryMs: number;
  maxDurationMs: number;
  maxBufferedBytes: number;
  maxStreams: number;
  graceMs: number;
  replayBufferBytes: number;
  maxSubscriptionsPerConnection: number;
  maxControlBodyBytes: number;
  maxPendingControlRequests: number;
  maxInputLength: number;
  maxLastEventIdLength: number;
  binary: boolean;
}

interface RouterSSEConfig {
  ping?: { enabled?: boolean; intervalMs?: number };
  client?: { reconnectAfterInactivityMs?: number };
  maxDurationMs?: number;
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0)) throw new RangeError(`trpc-sse: ${name} must be a number ≥ 0, got ${value}`);
  return value;
}

/** A non-negative whole number of ms that fits the SSE `retry:` field. */
function wholeMilliseconds(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`trpc-sse: ${name} must be a whole number ≥ 0, got ${value}`);
  return value;
}

/**
 * The heartbeat and the inactivity timeout told to clients. A client that hears nothing for
 * `reconnectAfterInactivityMs` drops the stream, so an idle stream must be pinged more often
 * than that. Only our own two options, both given and contradicting each other (or our
 * `heartbeatMs` contradicting the router's client timeout), are an error: otherwise, when the
 * heartbeat comes from a default or from the router's `sse.ping` (off, or too slow), a
 * heartbeat that fits is derived, a third of the timeout, so a lost ping or two is survived.
 */
function resolveKeepAlive(
  opts: SSECoreOptions,
  routerSSE: RouterSSEConfig,
): { heartbeatMs: number; reconnectAfterInactivityMs: number } {
  const ownHeartbeat = opts.heartbeatMs !== undefined;
  let heartbeatMs = nonNegative(
    'heartbeatMs',
    opts.heartbeatMs ??
      (routerSSE.ping?.enabled ? routerSSE.ping.intervalMs : undefined) ??
      SSE_SERVER_DEFAULTS.heartbeatMs,
  );
  const timeoutSource =
    opts.reconnectAfterInactivityMs !== undefined
      ? 'reconnectAfterInactivityMs'
      : routerSSE.client?.reconnectAfterInactivityMs !== undefined
        ? "the router's sse.client.reconnectAfterInactivityMs"
        : undefined;
  const reconnectAfterInactivityMs = nonNegative(
    'reconnectAfterInactivityMs',
    opts.reconnectAfterInactivityMs ?? routerSSE.client?.reconnectAfterInactivityMs ?? heartbeatMs * 3,
  );
  const fits = reconnectAfterInactivityMs === 0 || (heartbeatMs > 0 && heartbeatMs < reconnectAfterInactivityMs);
  if (!fits) {
    if (ownHeartbeat) {
      // A client would give up on a healthy idle stream before the next ping arrives.
      throw new RangeError(
        `trpc-sse: heartbeatMs (${heartbeatMs}) must be > 0 and below ${timeoutSource ?? 'reconnectAfterInactivityMs'} ` +
          `(${reconnectAfterInactivityMs}), or clients drop healthy idle streams; ` +
          'lower heartbeatMs, or pass reconnectAfterInactivityMs (0 tells clients no timeout)',
      );
    }
    heartbeatMs = Math.max(1, Math.floor(reconnectAfterInactivityMs / 3));
  }
  return { heartbeatMs, reconnectAfterInactivityMs };
}

/**
 * Applies defaults. The router's own `sse` config (`initTRPC.create({ sse })`) is honoured
 * where our options are not given, so an app moving from tRPC's handler keeps its settings.
 */
export function resolveServerOptions(opts: SSECoreOptions): ResolvedServerOptions {
  const routerSSE = (opts.router._def._config as { sse?: RouterSSEConfig }).sse ?? {};
  const { heartbeatMs, reconnectAfterInactivityMs } = resolveKeepAlive(opts, routerSSE);
  return {
    router: opts.router,
    heartbeatMs,
    reconnectAfterInactivityMs,
    retryMs: wholeMilliseconds('retryMs', opts.retryMs ?? SSE_SERVER_DEFAULTS.retryMs),
    maxDurationMs: nonNegative('maxDurationMs', opts.maxDurationMs ?? routerSSE.maxDurationMs ?? 0),
    maxBufferedBytes: nonNegative('maxBufferedBytes', opts.maxBufferedBytes ?? SSE_SERVER_DEFAULTS.maxBufferedBytes),
    maxStreams: nonNegative('maxStreams', opts.maxStreams ?? SSE_SERVER_DEFAULTS.maxStreams),
    graceMs: nonNegative('graceMs', opts.graceMs ?? SSE_SERVER_DEFAULTS.graceMs),
    replayBufferBytes: nonNegative(
      'replayBufferBytes',
      opts.replayBufferBytes ?? SSE_SERVER_DEFAULTS.replayBufferBytes,
    ),
    maxSubscriptionsPerConnection: nonNegative(
      'maxSubscriptionsPerConnection',
      opts.maxSubscriptionsPerConnection ?? SSE_SERVER_DEFAULTS.maxSubscriptionsPerConnection,
    ),
    maxControlBodyBytes: nonNegative(
      'maxControlBodyBytes',
      opts.maxControlBodyBytes ?? SSE_SERVER_DEFAULTS.maxControlBodyBytes,
    ),
    maxPendingControlRequests: nonNegative(
      'maxPendingControlRequests',
      opts.maxPendingControlRequests ?? SSE_SERVER_DEFAULTS.maxPendingControlRequests,
    ),
    maxInputLength: nonNegative('maxInputLength', opts.maxInputLength ?? SSE_SERVER_DEFAULTS.maxInputLength),
    maxLastEventIdLength: nonNegative(
      'maxLastEventIdLength',
      opts.maxLastEventIdLength ?? SSE_SERVER_DEFAULTS.maxLastEventIdLength,
    ),
    binary: opts.binary ?? SSE_SERVER_DEFAULTS.binary,
  };
}
