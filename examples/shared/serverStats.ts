/**
 * What the connection panel shows about the server: the SSE core's own figures
 * (`core.stats()`, the same ones its Prometheus and OpenTelemetry bridges export).
 */
import type { SSECore } from 'trpc-sse/server';

export interface ServerStatsSnapshot {
  /** Event streams open now (one per page in multiplexed mode, whatever it subscribes to). */
  streams: number;
  /** Multiplexed connections held now (a connection outlives a dropped stream for a while). */
  connections: number;
  /** Subscription procedures running now. */
  subscriptions: number;
  /** Resumes that lost nothing: a connection from its replay buffer, a subscription from the log. */
  resumes: number;
  /** Subscriptions whose position was lost (the client refetched). */
  resets: number;
  /** Bytes written to event streams since the server started. */
  bytesSent: number;
}

export class ServerStats {
  #core: SSECore | undefined;

  /** The SSE core whose figures are shown (set once the handler exists). */
  attach(core: SSECore): void {
    this.#core = core;
  }

  snapshot(): ServerStatsSnapshot {
    const core = this.#core;
    if (!core) return { streams: 0, connections: 0, subscriptions: 0, resumes: 0, resets: 0, bytesSent: 0 };
    const stats = core.stats();
    return {
      streams: core.openStreams,
      connections: core.connections,
      subscriptions: stats.subscriptions.distinct + stats.subscriptions.multiplexed,
      resumes: stats.resumes.replay + stats.resumes.log,
      resets: Object.values(stats.resets).reduce((sum, count) => sum + count, 0),
      bytesSent: stats.bytesSent,
    };
  }
}
