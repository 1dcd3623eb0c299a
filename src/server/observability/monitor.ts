import type { ResetReason } from '../../log/reset.js';
import { sharedValueOf } from '../../log/sharedValue.js';
import { pointChannel, tracingChannel } from '../../shared/diagnosticsChannel.js';
import {
  CONNECTION_OPEN_CHANNEL,
  CONTROL_CHANNEL,
  DRAIN_CHANNEL,
  RESET_CHANNEL,
  RESUME_CHANNEL,
  SLOW_CONSUMER_CHANNEL,
  STREAM_CLOSE_CHANNEL,
  STREAM_OPEN_CHANNEL,
  SUBSCRIPTION_END_CHANNEL,
  SUBSCRIPTION_START_CHANNEL,
  type ConnectionOpenContext,
  type ControlContext,
  type DrainMessage,
  type ReplayMissReason,
  type ResetMessage,
  type ResumeMessage,
  type SlowConsumerMessage,
  type StreamCloseMessage,
  type StreamCloseReason,
  type StreamMode,
  type StreamOpenMessage,
  type SubscriptionEndMessage,
  type SubscriptionOutcome,
  type SubscriptionStartContext,
} from './channels.js';
import { LagHistogram } from './histogram.js';
import type { SSEServerStats } from './stats.js';

const streamOpen = pointChannel<StreamOpenMessage>(STREAM_OPEN_CHANNEL);
const streamClose = pointChannel<StreamCloseMessage>(STREAM_CLOSE_CHANNEL);
const connectionOpen = tracingChannel<ConnectionOpenContext>(CONNECTION_OPEN_CHANNEL);
const subscriptionStart = tracingChannel<SubscriptionStartContext>(SUBSCRIPTION_START_CHANNEL);
const subscriptionEnd = pointChannel<SubscriptionEndMessage>(SUBSCRIPTION_END_CHANNEL);
const control = tracingChannel<ControlContext>(CONTROL_CHANNEL);
const resume = pointChannel<ResumeMessage>(RESUME_CHANNEL);
const reset = pointChannel<ResetMessage>(RESET_CHANNEL);
const drain = pointChannel<DrainMessage>(DRAIN_CHANNEL);
const slowConsumer = pointChannel<SlowConsumerMessage>(SLOW_CONSUMER_CHANNEL);

const nodeBuffer = (globalThis as { Buffer?: { byteLength(text: string): number } }).Buffer;

/** UTF-8 length of a string: Node's native count where there is one, else counted here. */
const utf8Length: (text: string) => number =
  nodeBuffer?.byteLength.bind(nodeBuffer) ??
  ((text) => {
    let bytes = text.length;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      // A surrogate pair is 2 units and 4 bytes; a lone surrogate becomes U+FFFD, 3 bytes.
      if (code >= 0x80)
        bytes += code < 0x800 ? 1 : code >= 0xd800 && code <= 0xdbff && i + 1 < text.length ? (i++, 2) : 2;
    }
    return bytes;
  });

/**
 * The UTF-8 size of the last text it measured. A fan-out writes the same string to every
 * stream in turn, so comparing with the last one (a pointer comparison for the same string)
 * spares measuring it again.
 */
class Utf8SizeMemo {
  #text = '';
  #bytes = 0;

  bytes(text: string): number {
    if (text !== this.#text) {
      this.#text = text;
      this.#bytes = utf8Length(text);
    }
    return this.#bytes;
  }
}

/**
 * How many deliveries of one event, in one turn, share a clock reading for their lag. A
 * delivery costs microseconds: the last of them is older than its reading by well under the
 * clock's own millisecond resolution.
 */
const LAG_CLOCK_REUSE = 32;

/** Where a subscription runs, for messages about it (read field by field: streams implement it with getters). */
export interface SubscriptionPlace {
  mode: StreamMode;
  path: string;
  /** Multiplexed: its id on the connection. */
  id: string | null;
  connectionId: string | null;
}

/**
 * One server's figures, and the hooks through which streams report to them and to the
 * tracing channels. Counters are plain numbers; a channel's message is built only when the
 * channel has subscribers. Per delivered event the cost is two increments, and the frame's
 * size where it is not known already (see {@link ServerMonitor.wroteMessage}); with a log's
 * publish time, a bucket scan and a clock read (shared across a fan-out: `#lagClock`).
 */
export class ServerMonitor {
  readonly #open = { distinct: 0, multiplexed: 0 };
  readonly #subscriptions = { distinct: 0, multiplexed: 0 };
  readonly #ended: Record<SubscriptionOutcome, number> = { completed: 0, failed: 0, overflow: 0, stopped: 0 };
  #startFailures = 0;
  readonly #resumes = { replay: 0, log: 0 };
  readonly #replayMisses: Record<ReplayMissReason, number> = { unknown: 0, trimmed: 0, forbidden: 0 };
  readonly #resets: Record<ResetReason, number> = { trimmed: 0, unknown: 0, epoch: 0 };
  readonly #disconnects: Record<StreamCloseReason, number> = {
    client: 0,
    ended: 0,
    slow: 0,
    maxDuration: 0,
    drain: 0,
    shutdown: 0,
    replaced: 0,
  };
  #pauses = 0;
  readonly #control: Record<string, number> = { ok: 0 };
  #bytes = 0;
  /** The last chunk, subscription key and value body measured, by kind of write. */
  readonly #chunkSize = new Utf8SizeMemo();
  readonly #keySize = new Utf8SizeMemo();
  readonly #bodySize = new Utf8SizeMemo();
  #events = 0;
  readonly #lag = new LagHistogram();
  /** The last clock reading for a lag, the publish time it was read for, and how often it served. */
  #clockAt = 0;
  #clockFor = NaN;
  #clockUses = 0;
  /** A reading may serve again: it was taken in this turn, for a fan-out. */
  #clockInTurn = false;
  #drains = 0;
  #reconnects = 0;
  /** Told every lag observation, in seconds (the OpenTelemetry bridge's histogram). */
  #lagListeners: Array<(seconds: number) => void> = [];

  /** A snapshot; `held` is the multiplexed connections the registry holds now. */
  snapshot(held: number): SSEServerStats {
    return {
      connections: { ...this.#open },
      detachedConnections: Math.max(0, held - this.#open.multiplexed),
      subscriptions: { ...this.#subscriptions },
      subscriptionsEnded: { ...this.#ended },
      subscriptionStartFailures: this.#startFailures,
      resumes: { ...this.#resumes },
      replayMisses: { ...this.#replayMisses },
      resets: { ...this.#resets },
      disconnects: { ...this.#disconnects },
      slowConsumerPauses: this.#pauses,
      controlRequests: { ...this.#control },
      bytesSent: this.#bytes,
      eventsDelivered: this.#events,
      deliveryLag: this.#lag.snapshot(),
      drains: this.#drains,
      reconnectsRequested: this.#reconnects,
    };
  }

  /** Adds a listener of lag observations (seconds); returns its removal. */
  onLag(listener: (seconds: number) => void): () => void {
    this.#lagListeners = [...this.#lagListeners, listener];
    return () => {
      this.#lagListeners = this.#lagListeners.filter((l) => l !== listener);
    };
  }

  // Streams.

  /** A stream is open; returns the time it opened, which {@link streamClosed} takes back. */
  streamOpened(mode: StreamMode, path: string | null, connectionId: string | null, resumed: boolean): number {
    this.#open[mode]++;
    if (streamOpen.hasSubscribers) streamOpen.publish({ mode, path, connectionId, resumed });
    return Date.now();
  }

  streamClosed(
    mode: StreamMode,
    path: string | null,
    connectionId: string | null,
    reason: StreamCloseReason,
    openedAt: number,
    bufferedBytes: number,
  ): void {
    this.#open[mode]--;
    this.#disconnects[reason]++;
    if (reason === 'slow' && slowConsumer.hasSubscribers)
      slowConsumer.publish({ action: 'cut', mode, connectionId, path, bufferedBytes });
    if (streamClose.hasSubscribers)
      streamClose.publish({ mode, path, connectionId, reason, durationMs: Date.now() - openedAt });
  }

  /**
   * Every string written to an event stream, except value frames of multiplexed streams
   * ({@link wroteMessage}). A chunk written to many streams in a row (a distinct-mode
   * fan-out) is measured once.
   */
  wrote(chunk: string): void {
    this.#bytes += this.#chunkSize.bytes(chunk);
  }

  /**
   * A multiplexed value frame: `frameLength` characters, of which only the subscription's
   * `key` and the `body` may be other than ASCII (the rest is `id: <seq>` and field names).
   * A body shared by a fan-out's frames is measured once for a run of them; a key, once per
   * run of its subscription's frames.
   */
  wroteMessage(frameLength: number, key: string, body: string): void {
    this.#bytes += frameLength + this.#keySize.bytes(key) - key.length + this.#bodySize.bytes(body) - body.length;
  }

  /** A writer starts waiting for a reader's socket to drain. */
  paused(mode: StreamMode, path: string | null, connectionId: string | null, bufferedBytes: number): void {
    this.#pauses++;
    if (slowConsumer.hasSubscribers) slowConsumer.publish({ action: 'pause', mode, connectionId, path, bufferedBytes });
  }

  // Multiplexed connections.

  /** Runs `createContext` for a new connection as a traced operation. */
  openConnection<R, A extends unknown[]>(
    openingSubscriptions: number,
    open: (...args: A) => Promise<R>,
    thisArg: unknown,
    ...args: A
  ): Promise<R> {
    if (!connectionOpen.hasSubscribers) return Reflect.apply<unknown, A, Promise<R>>(open, thisArg, args);
    return connectionOpen.tracePromise(open, { openingSubscriptions }, thisArg, ...args);
  }

  resumedFromReplay(connectionId: string, replayedFrames: number): void {
    this.#resumes.replay++;
    if (resume.hasSubscribers) {
      resume.publish({
        source: 'replay',
        resumed: true,
        mode: 'multiplexed',
        connectionId,
        path: null,
        replayedFrames,
        reason: null,
      });
    }
  }

  replayMissed(connectionId: string, reason: ReplayMissReason): void {
    this.#replayMisses[reason]++;
    if (resume.hasSubscribers) {
      resume.publish({
        source: 'replay',
        resumed: false,
        mode: 'multiplexed',
        connectionId,
        path: null,
        replayedFrames: 0,
        reason,
      });
    }
  }

  // Subscriptions.

  /** Calls a subscription's procedure as a traced operation. */
  startSubscription<R, A extends unknown[]>(
    place: SubscriptionPlace,
    lastEventId: string | null,
    start: (...args: A) => Promise<R>,
    thisArg: unknown,
    ...args: A
  ): Promise<R> {
    if (!subscriptionStart.hasSubscribers) return Reflect.apply<unknown, A, Promise<R>>(start, thisArg, args);
    const context: SubscriptionStartContext = {
      mode: place.mode,
      path: place.path,
      id: place.id,
      connectionId: place.connectionId,
      lastEventId,
    };
    return subscriptionStart.tracePromise(start, context, thisArg, ...args);
  }

  /** A subscription's procedure returned its source; returns the time, which {@link subscriptionEnded} takes back. */
  subscriptionStarted(mode: StreamMode): number {
    this.#subscriptions[mode]++;
    return Date.now();
  }

  subscriptionStartFailed(): void {
    this.#startFailures++;
  }

  subscriptionEnded(place: SubscriptionPlace, outcome: SubscriptionOutcome, startedAt: number): void {
    this.#subscriptions[place.mode]--;
    this.#ended[outcome]++;
    if (outcome === 'overflow' && place.mode === 'multiplexed' && slowConsumer.hasSubscribers) {
      slowConsumer.publish({
        action: 'stop',
        mode: place.mode,
        connectionId: place.connectionId,
        path: place.path,
        bufferedBytes: 0,
      });
    }
    if (subscriptionEnd.hasSubscribers) {
      const { mode, path, id, connectionId } = place;
      subscriptionEnd.publish({ mode, path, id, connectionId, outcome, durationMs: Date.now() - startedAt });
    }
  }

  /**
   * The first item of a subscription that was given a last id: a reset means the resume fell
   * back, anything else that it went on from that id.
   */
  resumedFromLog(place: SubscriptionPlace, resetReason: ResetReason | null): void {
    if (resetReason === null) this.#resumes.log++;
    if (resume.hasSubscribers) {
      resume.publish({
        source: 'log',
        resumed: resetReason === null,
        mode: place.mode,
        connectionId: place.connectionId,
        path: place.path,
        replayedFrames: 0,
        reason: resetReason,
      });
    }
  }

  reset(place: SubscriptionPlace, reason: ResetReason, lastEventId: string | null): void {
    this.#resets[reason]++;
    if (reset.hasSubscribers) {
      const { mode, path, id, connectionId } = place;
      reset.publish({ mode, path, id, connectionId, reason, lastEventId });
    }
  }

  /** A plain value written for a subscription. */
  delivered(): void {
    this.#events++;
  }

  /** A tracked value written for a subscription: its lag too, when its log noted when it was published. */
  deliveredEnvelope(envelope: readonly unknown[]): void {
    this.#events++;
    const publishedAt = sharedValueOf(envelope)?.publishedAt;
    // NaN (not recorded) fails the comparison.
    if (!(publishedAt! >= 0)) return;
    const lagMs = Math.max(0, this.#lagClock(publishedAt!) - publishedAt!);
    this.#lag.observe(lagMs);
    for (const listener of this.#lagListeners) listener(lagMs / 1000);
  }

  /**
   * The time for an event's lag. An event fanned out to many subscribers in one turn reads
   * the clock at its second delivery and then once per {@link LAG_CLOCK_REUSE} deliveries,
   * until the turn ends (a microtask marks that); every other delivery reads it itself.
   */
  #lagClock(publishedAt: number): number {
    if (this.#clockInTurn && publishedAt === this.#clockFor && this.#clockUses < LAG_CLOCK_REUSE) {
      this.#clockUses++;
      return this.#clockAt;
    }
    const now = Date.now();
    if (!this.#clockInTurn && publishedAt === this.#clockFor) {
      this.#clockInTurn = true;
      queueMicrotask(this.#turnEnded);
    }
    this.#clockFor = publishedAt;
    this.#clockAt = now;
    this.#clockUses = 1;
    return now;
  }

  readonly #turnEnded = (): void => {
    this.#clockInTurn = false;
  };

  // Control requests and drains.

  /** Runs a control request as a traced operation. */
  control<R, A extends unknown[]>(
    context: ControlContext,
    apply: (...args: A) => Promise<R>,
    thisArg: unknown,
    ...args: A
  ): Promise<R> {
    if (!control.hasSubscribers) return Reflect.apply<unknown, A, Promise<R>>(apply, thisArg, args);
    return control.tracePromise(apply, context, thisArg, ...args);
  }

  /** A control request was answered: `ok`, or a `TRPCError` code. */
  controlAnswered(code: string | null): void {
    const key = code === null ? 'ok' : code.toLowerCase();
    this.#control[key] = (this.#control[key] ?? 0) + 1;
  }

  drained(message: DrainMessage): void {
    this.#drains++;
    this.#reconnects += message.connections + message.distinctStreams;
    if (drain.hasSubscribers) drain.publish(message);
  }
}
