/**
 * The in-band reset: what a resumable source yields when it cannot resume from the id it was
 * given (trimmed away, unknown, from another epoch). The server turns it into a `reset` event
 * for that subscription; the client tells the app (so it can refetch) and carries on from `now`.
 */

const RESET = Symbol.for('trpc-sse.reset');

/** Why a resume was impossible. */
export type ResetReason = 'trimmed' | 'unknown' | 'epoch';

/** A reset signal (see {@link createReset}). */
export interface ResetSignal {
  readonly [RESET]: true;
  readonly reason: ResetReason;
  /** The id the subscription continues from (the log's head when it reset); resume from it. */
  readonly lastEventId: string | null;
}

export function createReset(reason: ResetReason, lastEventId: string | null): ResetSignal {
  return Object.freeze({ [RESET]: true as const, reason, lastEventId });
}

export function isReset(value: unknown): value is ResetSignal {
  return typeof value === 'object' && value !== null && (value as { [RESET]?: unknown })[RESET] === true;
}

const CHECKPOINT = Symbol.for('trpc-sse.checkpoint');

/**
 * A position without an event: where a reader that started "from now" stands, so a client
 * that loses its connection before the first event still resumes without a gap. Sent as an
 * event id only; apps never see it as data.
 */
export interface CheckpointSignal {
  readonly [CHECKPOINT]: true;
  readonly lastEventId: string;
}

export function createCheckpoint(lastEventId: string): CheckpointSignal {
  return Object.freeze({ [CHECKPOINT]: true as const, lastEventId });
}

export function isCheckpoint(value: unknown): value is CheckpointSignal {
  return typeof value === 'object' && value !== null && (value as { [CHECKPOINT]?: unknown })[CHECKPOINT] === true;
}
