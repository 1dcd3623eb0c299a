import { encodeEvent } from '../codec/encoder.js';

/**
 * tRPC v11's SSE dialect: the event names and headers its `httpSubscriptionLink` reads.
 * Distinct mode speaks exactly this, so stock tRPC clients and a browser `EventSource` work.
 */
export const TRPC_SSE_EVENT = {
  /** First event of every stream; data is a JSON object of client options. */
  connected: 'connected',
  /** Keep-alive; data is empty. */
  ping: 'ping',
  /** The error shape (through the router's transformer) of a failure; the stream then ends. */
  serializedError: 'serialized-error',
  /** The procedure completed; the client must not reconnect. */
  return: 'return',
  /**
   * trpc-sse's addition: the resume from the client's id was impossible (PROTOCOL.md §3).
   * Stock clients ignore unknown event types.
   */
  reset: 'reset',
  /** trpc-sse's addition: a position without data (the id only), so a resume has a start. */
  checkpoint: 'checkpoint',
} as const;

/** The options object of the `connected` event, as tRPC's client reads it. */
export interface ConnectedEventData {
  reconnectAfterInactivityMs?: number;
}

/**
 * Response headers of an event stream. `Connection` is hop-by-hop and forbidden on HTTP/2; on
 * HTTP/1.1 it says `close` while the process is going away, so the client's next request opens
 * a new connection (through the balancer, to another process) instead of reusing this one.
 */
export function eventStreamHeaders(http2: boolean, closing = false): Record<string, string> {
  const headers: Record<string, string> = {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache, no-transform',
    // Tells nginx not to buffer the response (it would hold events back).
    'X-Accel-Buffering': 'no',
  };
  if (!http2) headers['Connection'] = closing ? 'close' : 'keep-alive';
  return headers;
}

export const PING_FRAME = encodeEvent({ event: TRPC_SSE_EVENT.ping, data: '' });
export const RETURN_FRAME = encodeEvent({ event: TRPC_SSE_EVENT.return, data: '' });

/**
 * The first event. `retryMs` rides on it as the SSE `retry:` field: a browser `EventSource` (or
 * the `eventsource` package) then waits that long before reconnecting, instead of its own
 * default of about 3 s; trpc-sse's client takes it as the floor of its backoff.
 */
export function connectedFrame(data: ConnectedEventData, retryMs: number): string {
  return encodeEvent({ event: TRPC_SSE_EVENT.connected, retry: retryMs, data: JSON.stringify(data) });
}

/** A reset; its `id:` moves the client's Last-Event-ID to where the subscription continues. */
export function resetFrame(reason: string, lastEventId: string | null): string {
  const data = JSON.stringify({ reason, lastEventId });
  return lastEventId === null
    ? encodeEvent({ event: TRPC_SSE_EVENT.reset, data })
    : encodeEvent({ event: TRPC_SSE_EVENT.reset, id: lastEventId, data });
}

/** A checkpoint: the `id:` alone matters (EventSource keeps it as its Last-Event-ID). */
export function checkpointFrame(lastEventId: string): string {
  return encodeEvent({ event: TRPC_SSE_EVENT.checkpoint, id: lastEventId, data: '' });
}

export function errorFrame(serializedShape: string): string {
  return encodeEvent({ event: TRPC_SSE_EVENT.serializedError, data: serializedShape });
}
