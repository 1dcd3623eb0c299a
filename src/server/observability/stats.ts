import type { ResetReason } from '../../log/reset.js';
import type { ReplayMissReason, StreamCloseReason, SubscriptionOutcome } from './channels.js';
import type { HistogramSnapshot } from './histogram.js';

/**
 * What `core.stats()` returns: the server's figures since it was created. Gauges are what is
 * open now; everything else counts up.
 */
export interface SSEServerStats {
  /** Open streams: distinct ones, and multiplexed connections with a stream attached. */
  connections: { distinct: number; multiplexed: number };
  /** Multiplexed connections held without a stream, waiting (`graceMs`) for their client to resume. */
  detachedConnections: number;
  /** Subscriptions running now (their procedure started), per mode. */
  subscriptions: { distinct: number; multiplexed: number };
  /** Subscriptions that ended after starting, by how. */
  subscriptionsEnded: Record<SubscriptionOutcome, number>;
  /** Subscriptions that never started: unknown path, bad input, `createContext` or the procedure threw, limits. */
  subscriptionStartFailures: number;
  /**
   * Successful resumes: `replay`, a multiplexed connection resumed from its replay buffer (no
   * procedure ran again); `log`, a subscription given a last id that went on from it (no reset).
   */
  resumes: { replay: number; log: number };
  /** Multiplexed resumes that fell back to a new connection, by why. */
  replayMisses: Record<ReplayMissReason, number>;
  /** Resets sent (a subscription's position was lost), by the log's reason. */
  resets: Record<ResetReason, number>;
  /** Streams that ended, by why (see {@link StreamCloseReason}); `slow` counts slow consumers cut off. */
  disconnects: Record<StreamCloseReason, number>;
  /** Times a stream's writer waited for a slow reader's socket to drain. */
  slowConsumerPauses: number;
  /** Control requests answered, by result: `ok`, or the error's code in lower case (`forbidden`, `not_found`, …). */
  controlRequests: Record<string, number>;
  /** Bytes written to event streams (UTF-8), everything included: events, pings, replays. */
  bytesSent: number;
  /** Values written for subscriptions (a replay after a resume is not counted again). */
  eventsDelivered: number;
  /** Time from an event log's publish to the server writing the event, for events of a log that records it. */
  deliveryLag: HistogramSnapshot;
  /** Calls of `core.drain()`. */
  drains: number;
  /** Clients asked to move by a drain: multiplexed `reconnect` events, and distinct streams it ends. */
  reconnectsRequested: number;
}
