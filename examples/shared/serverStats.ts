/**
 * What the connection panel shows about the server. Streams and connections are the SSE
 * core's own counts; subscriptions and resumes are counted here, in a tRPC middleware (see
 * trpc.ts), because the core does not count them.
 */
import type { SSECore } from 'trpc-sse/server';

export interface ServerStatsSnapshot {
  /** Event streams open now (one per page in multiplexed mode, whatever it subscribes to). */
  streams: number;
  /** Multiplexed connections held now (a connection outlives a dropped stream for a while). */
  connections: number;
  /** Subscription procedures running now. */
  subscriptions: number;
  /** Subscriptions started with a `lastEventId`: a client picking up where it was. */
  resumes: number;
}

export class ServerStats {
  #core: SSECore | undefined;
  #subscriptions = 0;
  #resumes = 0;
  readonly #listeners = new Set<() => void>();

  /** The SSE core whose streams and connections are shown (set once the handler exists). */
  attach(core: SSECore): void {
    this.#core = core;
  }

  /**
   * A subscription procedure started; it counts until its `signal` aborts. Every subscription
   * in these examples ends through its signal (unsubscribe, connection gone, server closing):
   * none completes by itself while the server runs.
   */
  subscriptionStarted(resumed: boolean, signal: AbortSignal | undefined): void {
    this.#subscriptions++;
    if (resumed) this.#resumes++;
    signal?.addEventListener(
      'abort',
      () => {
        this.#subscriptions--;
        this.#changed();
      },
      { once: true },
    );
    this.#changed();
  }

  snapshot(): ServerStatsSnapshot {
    return {
      streams: this.#core?.openStreams ?? 0,
      connections: this.#core?.connections ?? 0,
      subscriptions: this.#subscriptions,
      resumes: this.#resumes,
    };
  }

  /** Calls `listener` after each change of the counts kept here; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
