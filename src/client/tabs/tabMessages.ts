/**
 * The messages tabs that share one stream exchange (PROTOCOL.md §5), over BroadcastChannels
 * named after the share's scope. Every message is structured-cloneable: values travel as
 * the server sent them (JSON, tagged bytes revived as `Uint8Array`), errors as plain data.
 */
import { TRPCClientError } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import type { ResetReason } from '../../log/reset.js';
import type { AnyClientError } from '../errors.js';

/** Version of these messages: a tab ignores messages of another (an old tab during a deploy). */
export const TAB_PROTOCOL = 1;

/** A failure as data: its tRPC shape when it has one, else its message. */
export interface ErrorData {
  message: string;
  shape?: unknown;
}

/** A connection state as data (the leader's, mirrored by followers). */
export interface StateData {
  state: 'idle' | 'connecting' | 'pending';
  error: ErrorData | null;
}

/** On the scope's shared channel. */
export type SharedMessage =
  /** A tab joined (or came back from the back/forward cache): the leader answers `leader`. */
  | { v: 1; t: 'hello'; from: string }
  /** The leader of the scope, and its connection's state: followers (re)send their subscriptions to it. */
  | { v: 1; t: 'leader'; from: string; state: StateData }
  /** The leader's connection state changed. */
  | { v: 1; t: 'state'; from: string; state: StateData }
  /** The leader has been hidden for a while: a visible tab may take over (its timers are not throttled). */
  | { v: 1; t: 'hidden'; from: string }
  /** A follower's subscription, for the leader to carry from `lastEventId` (`input` already serialized). */
  | {
      v: 1;
      t: 'sub';
      from: string;
      to: string;
      id: string;
      path: string;
      input: unknown;
      lastEventId: string | undefined;
      /** The operation's `context.retry === false` (a policy function cannot cross tabs). */
      noRetry: boolean;
    }
  | { v: 1; t: 'unsub'; from: string; to: string; id: string }
  /** A tab that does not lead was sent a subscription: the sender asks again who leads (`hello`). */
  | { v: 1; t: 'notLeader'; from: string; to: string }
  /** A follower leaves (closed, or into the back/forward cache): the leader drops its subscriptions. */
  | { v: 1; t: 'bye'; from: string };

/** From the leader to one follower, on that tab's own channel. */
export type TabMessage =
  /** An envelope of subscription `id` (data values still to go through the follower's transformer). */
  | { v: 1; t: 'ev'; from: string; id: string; envelope: EnvelopeData }
  /** Subscription `id` ended: completed, or failed with `error`. */
  | { v: 1; t: 'end'; from: string; id: string; error: ErrorData | null }
  /** Subscription `id` could not resume (PROTOCOL.md §3): the follower's `onReset` hears it. */
  | { v: 1; t: 'reset'; from: string; id: string; reason: ResetReason; lastEventId: string | null };

/** The envelopes a subscription emits, as data. */
export type EnvelopeData =
  | { type: 'started' }
  | { type: 'stopped' }
  | { type: 'state'; state: StateData }
  | { type: 'data'; id: string | undefined; data: unknown };

/** The channel all tabs of a scope share. */
export const sharedChannelName = (scope: string): string => `trpc-sse:${scope}`;
/** The channel the leader writes to one tab on. */
export const tabChannelName = (scope: string, tab: string): string => `trpc-sse:${scope}:tab:${tab}`;
/** The lock whose holder leads the scope. */
export const leaderLockName = (scope: string): string => `trpc-sse:${scope}:leader`;
/** Taken (if free) by the one visible tab that replaces a hidden leader, so two do not both take over. */
export const takeoverLockName = (scope: string): string => `trpc-sse:${scope}:takeover`;
/** The lock a tab holds while it lives: the leader learns a tab is gone when it frees. */
export const aliveLockName = (scope: string, tab: string): string => `trpc-sse:${scope}:alive:${tab}`;

export function errorData(error: AnyClientError): ErrorData {
  const shape = (error as { shape?: unknown }).shape;
  return shape === undefined ? { message: error.message } : { message: error.message, shape };
}

export function errorFromData(data: ErrorData): AnyClientError {
  return data.shape !== undefined
    ? TRPCClientError.from<AnyTRPCRouter>({ error: data.shape } as never)
    : TRPCClientError.from<AnyTRPCRouter>(new Error(data.message));
}

export function stateData(state: { state: StateData['state']; error: AnyClientError | null }): StateData {
  return { state: state.state, error: state.error ? errorData(state.error) : null };
}
