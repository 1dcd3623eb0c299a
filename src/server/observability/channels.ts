/**
 * The server's `node:diagnostics_channel` names and the shape of what each carries.
 *
 * A stream is not one span: it may stay open for hours, and a span that never ends is never
 * exported. It is two point events instead, {@link STREAM_OPEN_CHANNEL} and
 * {@link STREAM_CLOSE_CHANNEL} (which carries its duration and why it ended); a subscription
 * likewise ends with {@link SUBSCRIPTION_END_CHANNEL}. Tracing channels (start, end,
 * asyncStart, asyncEnd, error) cover only work that finishes: opening a multiplexed
 * connection (`createContext`), starting a subscription (the procedure call), a control
 * request, a log publish. Nothing is published per delivered event.
 *
 * Every message is built only when its channel has subscribers.
 */
import type { ResetReason } from '../../log/reset.js';
import type { PlainResponse } from '../request.js';

export { LOG_PUBLISH_CHANNEL, type LogPublishContext } from '../../log/publishTracing.js';

/** Point channel: a stream is open (after its handshake: the `connected` or `connection` event is written). */
export const STREAM_OPEN_CHANNEL = 'trpc-sse:stream:open';
/** Point channel: an open stream ended; {@link StreamCloseMessage}. */
export const STREAM_CLOSE_CHANNEL = 'trpc-sse:stream:close';
/** Tracing channel: a multiplexed connection being made (`createContext`); {@link ConnectionOpenContext}. */
export const CONNECTION_OPEN_CHANNEL = 'trpc-sse:connection:open';
/** Tracing channel: a subscription's procedure being called; {@link SubscriptionStartContext}. */
export const SUBSCRIPTION_START_CHANNEL = 'trpc-sse:subscription:start';
/** Point channel: a started subscription ended; {@link SubscriptionEndMessage}. */
export const SUBSCRIPTION_END_CHANNEL = 'trpc-sse:subscription:end';
/** Tracing channel: a multiplexed control request; {@link ControlContext}. */
export const CONTROL_CHANNEL = 'trpc-sse:control';
/** Point channel: a resume succeeded or fell back; {@link ResumeMessage}. */
export const RESUME_CHANNEL = 'trpc-sse:resume';
/** Point channel: a subscription was told to reset (its position was lost); {@link ResetMessage}. */
export const RESET_CHANNEL = 'trpc-sse:reset';
/** Point channel: `core.drain()` was called; {@link DrainMessage}. */
export const DRAIN_CHANNEL = 'trpc-sse:drain';
/** Point channel: a reader fell behind: its writer paused, or its stream was cut; {@link SlowConsumerMessage}. */
export const SLOW_CONSUMER_CHANNEL = 'trpc-sse:slow-consumer';

/** The two wire modes (PROTOCOL.md). */
export type StreamMode = 'distinct' | 'multiplexed';

/**
 * Why a stream ended:
 * - `client`: the client went away (or its network did);
 * - `ended`: the server was done with it: a distinct subscription returned or failed, a
 *   multiplexed connection was closed by its client;
 * - `slow`: its reader fell more than `maxBufferedBytes` behind, and it was cut off;
 * - `maxDuration`: `maxDurationMs` was reached;
 * - `drain`: `core.drain()` moved it (distinct mode; multiplexed clients hand over, then `close`);
 * - `shutdown`: `closeAllStreams()` or `close()`;
 * - `replaced`: a multiplexed client resumed its connection on a new stream before the server
 *   saw the old one die.
 */
export type StreamCloseReason = 'client' | 'ended' | 'slow' | 'maxDuration' | 'drain' | 'shutdown' | 'replaced';

/**
 * How a started subscription ended: `completed` (the procedure returned), `failed` (it threw,
 * or a value could not be sent), `overflow` (an observable outran its reader), `stopped` (the
 * client unsubscribed or left, or the server ended the stream).
 */
export type SubscriptionOutcome = 'completed' | 'failed' | 'overflow' | 'stopped';

/**
 * Why a multiplexed stream that asked to resume its connection (`Last-Event-ID` with the
 * connection's id) got a new one: `unknown` (no such connection here: its grace ran out, or
 * another process holds it), `trimmed` (frames it missed are gone), `forbidden` (wrong secret).
 */
export type ReplayMissReason = 'unknown' | 'trimmed' | 'forbidden';

export interface StreamOpenMessage {
  mode: StreamMode;
  /** Distinct mode: the subscription's path; multiplexed: `null`. */
  path: string | null;
  /** Multiplexed mode: the connection it carries; distinct: `null`. */
  connectionId: string | null;
  /** Multiplexed mode: `true` when it resumed a connection from the replay buffer. */
  resumed: boolean;
}

export interface StreamCloseMessage {
  mode: StreamMode;
  path: string | null;
  connectionId: string | null;
  reason: StreamCloseReason;
  /** From {@link STREAM_OPEN_CHANNEL} to now: a span can be made from it, backdated. */
  durationMs: number;
}

/**
 * Context of {@link CONNECTION_OPEN_CHANNEL}: `createContext` for a new connection (its id,
 * made after, is in the {@link STREAM_OPEN_CHANNEL} message that follows).
 */
export interface ConnectionOpenContext {
  /** Subscriptions the stream's request carried (started right after). */
  openingSubscriptions: number;
  /** Set by `diagnostics_channel` when `createContext` rejects. */
  error?: unknown;
}

export interface SubscriptionStartContext {
  mode: StreamMode;
  path: string;
  /** Multiplexed mode: the subscription's id on its connection; distinct: `null`. */
  id: string | null;
  connectionId: string | null;
  /** The id it resumes from (`Last-Event-ID`, or the op's `lastEventId`), if any. */
  lastEventId: string | null;
  /**
   * Set by `diagnostics_channel` on failure: the lookup, the input, `createContext` (distinct
   * mode, which makes one per stream) or the procedure threw.
   */
  error?: unknown;
}

export interface SubscriptionEndMessage {
  mode: StreamMode;
  path: string;
  id: string | null;
  connectionId: string | null;
  outcome: SubscriptionOutcome;
  durationMs: number;
}

export interface ControlContext {
  /** The connection it names (the `trpc-sse-connection` header). */
  connectionId: string | null;
  /** `true` when another process handed it over through the connection directory. */
  forwarded: boolean;
  /** Ops applied (0 when refused before its body was read). */
  ops: number;
  /** Set by `diagnostics_channel` when it resolves: the answer (204, or an error status and body). */
  result?: PlainResponse;
}

export interface ResumeMessage {
  /** `replay`: a multiplexed connection from its replay buffer; `log`: a subscription from its last id. */
  source: 'replay' | 'log';
  resumed: boolean;
  mode: StreamMode;
  connectionId: string | null;
  /** `log`: the subscription's path; `replay`: `null`. */
  path: string | null;
  /** `replay`: frames sent again; `log`: 0. */
  replayedFrames: number;
  /** When it fell back: a {@link ReplayMissReason}, or the log's {@link ResetReason}. */
  reason: ReplayMissReason | ResetReason | null;
}

export interface ResetMessage {
  mode: StreamMode;
  path: string;
  id: string | null;
  connectionId: string | null;
  reason: ResetReason;
  /** Where the subscription goes on from. */
  lastEventId: string | null;
}

export interface DrainMessage {
  withinMs: number;
  refuseNew: boolean;
  /** Multiplexed connections asked to reconnect. */
  connections: number;
  /** Distinct streams to be ended within `withinMs`. */
  distinctStreams: number;
}

export interface SlowConsumerMessage {
  /**
   * `pause`: its writer waits for the socket to drain; `cut`: the stream was cut off with its
   * queue; `stop`: a multiplexed observable subscription was stopped (the stream stays).
   */
  action: 'pause' | 'cut' | 'stop';
  mode: StreamMode;
  connectionId: string | null;
  path: string | null;
  /** Bytes queued on the stream at that moment. */
  bufferedBytes: number;
}
