import type { TrackedEnvelope } from '@trpc/server';

/** Options of {@link EventLog.subscribe}. */
export interface EventLogSubscribeOptions {
  /**
   * The last id the client has (a procedure passes `input.lastEventId`): events after it are
   * replayed, then live ones follow. Absent: live events only, from now.
   */
  lastEventId?: string | null | undefined;
  /** The procedure's `opts.signal`: ends the subscription when the client leaves. */
  signal?: AbortSignal | undefined;
}

/**
 * A resumable, append-only event log with topics. Procedures publish to it and subscribe
 * from a client's last id; a resume that is impossible yields an in-band reset.
 */
export interface EventLog {
  /** This log's life: ids carry it, so ids from a wiped or replaced log are recognised. */
  readonly epoch: string;
  /** Appends `data` to `topic`; resolves with the event's id. */
  publish<T>(topic: string, data: T): Promise<string>;
  /**
   * Every event of `topic` after `lastEventId`, then live ones, each as `tracked(id, data)`,
   * with no event lost or repeated between replay and live. When `lastEventId` is no longer
   * held (trimmed, unknown, another epoch) — or the reader fell so far behind that events it
   * had not read were trimmed — a reset comes first, and events continue from the head.
   * (Resets, and the checkpoint a reader starting "from now" gets, are carried by the
   * transport as positions; they never reach the app as data.)
   * Return it from a subscription procedure: `.subscription(({ input, signal }) =>
   * log.subscribe('feed', { lastEventId: input.lastEventId, signal }))`.
   */
  subscribe<T>(topic: string, opts?: EventLogSubscribeOptions): AsyncGenerator<TrackedEnvelope<T>, void>;
  /** Ends every subscription and releases what the log holds. */
  close(): Promise<void>;
}
