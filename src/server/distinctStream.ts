import { isTrackedEnvelope } from '@trpc/server';
import type { TRPCRequestInfo } from '@trpc/server/http';
import { encodeEvent } from '../codec/encoder.js';
import { isCheckpoint, isReset } from '../log/reset.js';
import { checkpointFrame, connectedFrame, errorFrame, eventStreamHeaders, PING_FRAME, resetFrame, RETURN_FRAME } from './dialect.js';
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

/**
 * Resolves the procedure and calls it. Every failure on the way (bad Last-Event-ID, unknown
 * path, wrong procedure type, bad input, `createContext`, the procedure throwing before it
 * returns a stream) becomes a `TRPCError` for the caller to send in-band.
 */
async function startProcedure(
  env: StreamEnvironment,
  req: SSERequest,
  hooks: RequestHooks,
  scope: ErrorScope,
  signal: AbortSignal,
): Promise<SubscriptionSource> {
  const { options } = env;
  const { router } = options;
  const lastEventId = readLastEventId(req, options.maxLastEventIdLength);
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
class DistinctStream implements HeartbeatTarget, PumpOutlet, ClientGoneListener {
  readonly mode = 'distinct';
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

  constructor(env: StreamEnvironment, req: SSERequest, sink: SSEResponseSink, hooks: RequestHooks) {
    this.#env = env;
    this.#req = req;
    this.#sink = sink;
    this.#hooks = hooks;
    this.#scope = { path: req.path, type: 'unknown', input: undefined, ctx: undefined };
    this.#serializer = ValueSerializer.for(env.options, req);
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** Resolves when the stream has ended, for whatever reason. */
  get done(): Promise<void> {
    return this.#done;
  }

  async run(): Promise<void> {
    const { options } = this.#env;
    if (!this.#req.onGone(this)) return this.#finish();
    if (!this.#env.admit(this)) {
      this.#open();
      this.#fail(this.#env.refusal());
      return;
    }
    let source: SubscriptionSource;
    try {
      source = await startProcedure(this.#env, this.#req, this.#hooks, this.#scope, this.#abort.signal);
    } catch (cause) {
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
    if (options.maxDurationMs > 0) {
      this.#maxDurationTimer = setTimeout(() => this.close(), options.maxDurationMs);
    }
    this.#pump = pumpSource(source, this, this.#abort.signal);
  }

  /**
   * Ends the stream without `return`: the client reconnects and resumes. A stream with more
   * than `maxBufferedBytes` still queued is cut off rather than ended behind its queue: once
   * it is no longer counted against `maxStreams`, a peer that does not read would otherwise
   * keep that memory for as long as it stays connected.
   */
  close(): void {
    this.#finish(this.overBudget());
  }

  /** The client left. */
  clientGone(): void {
    this.close();
  }

  // PumpOutlet: called by the pump (the stream is its own outlet: no closures per stream).

  value(value: unknown): boolean {
    return this.#writeValue(value);
  }

  drained(): Promise<void> {
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
    this.#finish();
  }

  fail(cause: unknown): void {
    this.#fail(cause);
  }

  /** An observable that outran its reader: disconnect resumably instead of buffering. */
  overflow(): void {
    this.#finish(true);
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
    return this.#sink.write(frame);
  }

  /** Writes one value; returns false when the reader is behind. */
  #writeValue(value: unknown): boolean {
    // Every id written must be one the server accepts back on a resume (trackedId.ts).
    const { maxLastEventIdLength } = this.#env.options;
    if (isReset(value)) {
      if (value.lastEventId !== null) checkTrackedId(value.lastEventId, maxLastEventIdLength);
      return this.#write(resetFrame(value.reason, value.lastEventId));
    }
    if (isCheckpoint(value)) return this.#write(checkpointFrame(checkTrackedId(value.lastEventId, maxLastEventIdLength)));
    if (isTrackedEnvelope(value)) {
      checkEmittedId(value, maxLastEventIdLength);
      return this.#write(this.#serializer.trackedEvent(value));
    }
    return this.#write(encodeEvent({ data: this.#serializer.toJSON(value) }));
  }

  /** Sends a failure in-band as `serialized-error`, reports it once, and ends the stream. */
  #fail(cause: unknown): void {
    if (this.#closed) return;
    const error = reportFailure(this.#hooks, cause, this.#scope);
    this.#write(errorFrame(serializeErrorShape(this.#env.options.router, error, this.#scope)));
    this.#finish();
  }

  /** `cut`: drop what is still queued (see {@link close}). */
  #finish(cut = false): void {
    if (this.#closed) return;
    this.#closed = true;
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
export function serveDistinctStream(env: StreamEnvironment, req: SSERequest, sink: SSEResponseSink, hooks: RequestHooks): Promise<void> {
  const stream = new DistinctStream(env, req, sink, hooks);
  // Nothing in run() should throw; if something does, the stream must still be released.
  // (Chained, not awaited: an open stream holds no suspended function here.)
  void stream.run().catch(() => stream.close());
  return stream.done;
}
