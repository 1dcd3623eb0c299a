import { isTrackedEnvelope } from '@trpc/server';
import type { TRPCRequestInfo } from '@trpc/server/http';
import { encodeEvent } from '../codec/encoder.js';
import { isCheckpoint, isReset } from '../log/reset.js';
import {
  checkpointFrame,
  connectedFrame,
  errorFrame,
  eventStreamHeaders,
  PING_FRAME,
  resetFrame,
  RETURN_FRAME,
} from './dialect.js';
import { reportFailure, type ErrorScope } from './errorShape.js';
import type { HeartbeatTarget } from './heartbeat.js';
import type { RequestHooks } from './options.js';
import type { ClientGoneListener, SSERequest, SSEResponseSink } from './request.js';
import { readConnectionParams, readInput, readLastEventId } from './requestParams.js';
import { callSubscription, lookupSubscription, type SubscriptionSource } from './subscriptionCall.js';
import { discardSource, pumpSource, type Pump, type PumpOutlet } from './sourcePump.js';
import { serializeErrorShape, ValueSerializer } from './serialize.js';
import { checkEmittedId, checkTrackedId } from './trackedId.js';
import type { StreamEnvironment } from './environment.js';
import type { StreamCloseReason, SubscriptionOutcome } from './observability/channels.js';
import type { SubscriptionPlace } from './observability/monitor.js';

/**
 * Resolves the procedure and calls it. Every failure on the way (unknown path, wrong
 * procedure type, bad input, `createContext`, the procedure throwing before it
 * returns a stream) becomes a `TRPCError` for the caller to send in-band.
 */
async function startProcedure(
  env: StreamEnvironment,
  req: SSERequest,
  hooks: RequestHooks,
  scope: ErrorScope,
  signal: AbortSignal,
  lastEventId: string | null,
): Promise<SubscriptionSource> {
  const { options } = env;
  const { router } = options;
  const procedure = await lookupSubscription(router, req.path);
  scope.type = 'subscription';
  const input = readInput(req, router, options.maxInputLength);
  scope.input = input;
  const connectionParams = readConnectionParams(req, options.maxInputLength);
  const info: TRPCRequestInfo = {
    accept: null,
    type: 'subscription',
    isBatchCall: false,
    calls: [
      {
        path: req.path,
        procedure,
        batchIndex: 0,
        getRawInput: () => Promise.resolve(input),
        result: () => input,
      },
    ],
    connectionParams,
    signal,
    url: req.url,
  };
  const ctx = await hooks.createContext(info);
  scope.ctx = ctx;
  return callSubscription({ router, procedure, path: req.path, input, lastEventId, ctx, signal });
}

/**
 * One subscription on its own event stream, in tRPC's dialect (distinct mode). Values are
 * written straight to the sink as they come (see {@link pumpSource} for backpressure).
 */
class DistinctStream implements HeartbeatTarget, PumpOutlet, ClientGoneListener, SubscriptionPlace {
  readonly mode = 'distinct';
  readonly id = null;
  readonly connectionId = null;
  wroteSinceTick = true;
  #closed = false;
  readonly #abort = new AbortController();
  readonly #env: StreamEnvironment;
  readonly #req: SSERequest;
  readonly #sink: SSEResponseSink;
  readonly #hooks: RequestHooks;
  readonly #scope: ErrorScope;
  readonly #serializer: ValueSerializer;
  readonly #done: Promise<void>;
  #resolveDone!: () => void;
  #pump: Pump | undefined;
  #maxDurationTimer: ReturnType<typeof setTimeout> | undefined;
  /** When it opened and when its procedure started (0: not yet), for the server's figures. */
  #openedAt = 0;
  #startedAt = 0;
  /** The id it resumes from, until its first item tells whether that worked. */
  #resumeFrom: string | null = null;

  constructor(env: StreamEnvironment, req: SSERequest, sink: SSEResponseSink, hooks: RequestHooks) {
    this.#env = env;
    this.#req = req;
    this.#sink = sink;
    this.#hooks = hooks;
    this.#scope = { path: req.path, type: 'unknown', input: undefined, ctx: undefined };
    this.#serializer = ValueSerializer.for(env.options, req);
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  get path(): string {
    return this.#req.path;
  }

  /** Resolves when the stream has ended, for whatever reason. */
  get done(): Promise<void> {
    return this.#done;
  }

  async run(): Promise<void> {
    const { options, monitor } = this.#env;
    if (!this.#req.onGone(this)) {
      this.#finish('client', 'stopped');
      return;
    }
    if (!this.#env.admit(this)) {
      monitor.subscriptionStartFailed();
      this.#open();
      this.#fail(this.#env.refusal());
      return;
    }
    let source: SubscriptionSource;
    try {
      this.#resumeFrom = readLastEventId(this.#req, options.maxLastEventIdLength);
      const { signal } = this.#abort;
      source = await monitor.startSubscription(
        this,
        this.#resumeFrom,
        startProcedure,
        undefined,
        this.#env,
        this.#req,
        this.#hooks,
        this.#scope,
        signal,
        this.#resumeFrom,
      );
    } catch (cause) {
      monitor.subscriptionStartFailed();
      if (this.#closed) return;
      this.#open();
      this.#fail(cause);
      return;
    }
    if (this.#closed) {
      // The client left while the procedure was starting: let it clean up.
      discardSource(source);
      return;
    }
    this.#open();
    this.#openedAt = monitor.streamOpened('distinct', this.#req.path, null, false);
    this.#startedAt = monitor.subscriptionStarted('distinct');
    if (options.maxDurationMs > 0) {
      this.#maxDurationTimer = setTimeout(() => this.close('maxDuration'), options.maxDurationMs);
    }
    this.#pump = pumpSource(source, this, this.#abort.signal);
  }

  /**
   * Ends the stream without `return`: the client reconnects and resumes. A stream with more
   * than `maxBufferedBytes` still queued is cut off rather than ended behind its queue: once
   * it is no longer counted against `maxStreams`, a peer that does not read would otherwise
   * keep that memory for as long as it stays connected.
   */
  close(reason: StreamCloseReason): void {
    this.#finish(reason, 'stopped', this.overBudget());
  }

  /** The client left. */
  clientGone(): void {
    this.close('client');
  }

  // PumpOutlet: called by the pump (the stream is its own outlet: no closures per stream).

  value(value: unknown): boolean {
    return this.#writeValue(value);
  }

  drained(): Promise<void> {
    // The pump asks only when a write said the reader is behind.
    this.#env.monitor.paused('distinct', this.#req.path, null, this.#sink.bufferedBytes);
    return this.#sink.drained();
  }

  overBudget(): boolean {
    return this.#sink.bufferedBytes > this.#env.options.maxBufferedBytes;
  }

  complete(): void {
    // Closing aborts the procedure's signal first; a source that completes on it (a log
    // subscription on a signal derived from it) must not turn a resumable close into `return`.
    if (this.#closed) return;
    this.#write(RETURN_FRAME);
    this.#finish('ended', 'completed');
  }

  fail(cause: unknown): void {
    this.#fail(cause);
  }

  /** An observable that outran its reader: disconnect resumably instead of buffering. */
  overflow(): void {
    this.#finish('slow', 'overflow', true);
  }

  ping(): void {
    this.#write(PING_FRAME);
  }

  #open(): void {
    const { reconnectAfterInactivityMs, retryMs } = this.#env.options;
    this.#sink.start(200, eventStreamHeaders(this.#hooks.http2, this.#env.refusing));
    this.#write(connectedFrame(reconnectAfterInactivityMs > 0 ? { reconnectAfterInactivityMs } : {}, retryMs));
    if (!this.#closed) this.#env.heartbeat.add(this);
  }

  #write(frame: string): boolean {
    this.wroteSinceTick = true;
    this.#env.monitor.wrote(frame);
    return this.#sink.write(frame);
  }

  /** Writes one value; returns false when the reader is behind. */
  #writeValue(value: unknown): boolean {
    // Every id written must be one the server accepts back on a resume (trackedId.ts).
    const { options, monitor } = this.#env;
    const { maxLastEventIdLength } = options;
    if (this.#resumeFrom !== null) this.#resumeDecided(value);
    if (isReset(value)) {
      if (value.lastEventId !== null) checkTrackedId(value.lastEventId, maxLastEventIdLength);
      monitor.reset(this, value.reason, value.lastEventId);
      return this.#write(resetFrame(value.reason, value.lastEventId));
    }
    if (isCheckpoint(value))
      return this.#write(checkpointFrame(checkTrackedId(value.lastEventId, maxLastEventIdLength)));
    if (isTrackedEnvelope(value)) {
      checkEmittedId(value, maxLastEventIdLength);
      monitor.deliveredEnvelope(value);
      return this.#write(this.#serializer.trackedEvent(value));
    }
    monitor.delivered();
    return this.#write(encodeEvent({ data: this.#serializer.toJSON(value) }));
  }

  /** The first item after a resume: a reset says it fell back, anything else that it went on. */
  #resumeDecided(first: unknown): void {
    this.#resumeFrom = null;
    this.#env.monitor.resumedFromLog(this, isReset(first) ? first.reason : null);
  }

  /** Sends a failure in-band as `serialized-error`, reports it once, and ends the stream. */
  #fail(cause: unknown): void {
    if (this.#closed) return;
    const error = reportFailure(this.#hooks, cause, this.#scope);
    this.#write(errorFrame(serializeErrorShape(this.#env.options.router, error, this.#scope)));
    this.#finish('ended', 'failed');
  }

  /** `cut`: drop what is still queued (see {@link close}). */
  #finish(reason: StreamCloseReason, outcome: SubscriptionOutcome, cut = false): void {
    if (this.#closed) return;
    this.#closed = true;
    const { monitor } = this.#env;
    if (this.#startedAt) monitor.subscriptionEnded(this, outcome, this.#startedAt);
    if (this.#openedAt)
      monitor.streamClosed('distinct', this.#req.path, null, reason, this.#openedAt, this.#sink.bufferedBytes);
    this.#req.onGone(null);
    this.#env.heartbeat.delete(this);
    this.#env.release(this);
    if (this.#maxDurationTimer) clearTimeout(this.#maxDurationTimer);
    // Tell the procedure first (its `opts.signal`), then stop the pump.
    this.#abort.abort();
    this.#pump?.stop();
    if (cut && this.#sink.destroy) this.#sink.destroy();
    else this.#sink.end();
    this.#resolveDone();
  }
}

/** Serves one distinct-mode subscription request; resolves when its stream has ended. */
export function serveDistinctStream(
  env: StreamEnvironment,
  req: SSERequest,
  sink: SSEResponseSink,
  hooks: RequestHooks,
): Promise<void> {
  const stream = new DistinctStream(env, req, sink, hooks);
  // Nothing in run() should throw; if something does, the stream must still be released.
  // (Chained, not awaited: an open stream holds no suspended function here.)
  void stream.run().catch(() => stream.close('ended'));
  return stream.done;
}
