import { callTRPCProcedure, isTrackedEnvelope, TRPCError } from '@trpc/server';
import type { TRPCRequestInfo } from '@trpc/server/http';
import { isObservable, type Observable, type Unsubscribable } from '@trpc/server/observable';
import { tagBinary } from '../codec/binary.js';
import { encodeEvent } from '../codec/encoder.js';
import { connectedFrame, errorFrame, eventStreamHeaders, PING_FRAME, RETURN_FRAME } from './dialect.js';
import { getTRPCErrorFromUnknown, toErrorShape, type ErrorScope } from './errorShape.js';
import type { Heartbeat, HeartbeatTarget } from './heartbeat.js';
import type { RequestHooks } from './options.js';
import { findProcedure } from './procedures.js';
import type { SSERequest, SSEResponseSink } from './request.js';
import { readConnectionParams, readInput, readLastEventId } from './requestParams.js';
import type { ResolvedServerOptions } from './resolveOptions.js';
import { inputWithResumeId } from './resumeInput.js';

/** What every stream of one server shares. */
export interface StreamEnvironment {
  options: ResolvedServerOptions;
  heartbeat: Heartbeat;
  /** Live streams, so the server can end them all (shutdown, restart). */
  streams: Set<{ close(): void }>;
}

type Source = { kind: 'iterable'; value: AsyncIterable<unknown> } | { kind: 'observable'; value: Observable<unknown, unknown> };

/**
 * Our client asks for tagged bytes with an Accept parameter. Others (a stock tRPC client,
 * EventSource) get exactly what tRPC's server would send them, transformer output included.
 */
function acceptsTaggedBinary(req: SSERequest): boolean {
  return req.headers.get('accept')?.includes('trpc-sse-binary=base64') ?? false;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && Symbol.asyncIterator in value;
}

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
): Promise<Source> {
  const { options } = env;
  const { router } = options;
  const lastEventId = readLastEventId(req, options.maxLastEventIdLength);
  const procedure = await findProcedure(router, req.path);
  if (!procedure) {
    throw new TRPCError({ code: 'NOT_FOUND', message: `No procedure found on path "${req.path}"` });
  }
  scope.type = procedure._def.type;
  if (procedure._def.type !== 'subscription') {
    throw new TRPCError({
      code: 'METHOD_NOT_SUPPORTED',
      message: `"${req.path}" is a ${procedure._def.type}, not a subscription`,
    });
  }
  const input = readInput(req, router, options.maxInputLength);
  scope.input = input;
  const connectionParams = readConnectionParams(req, options.maxInputLength);
  const rawInput = await inputWithResumeId(procedure, input, lastEventId);
  const info: TRPCRequestInfo = {
    accept: null,
    type: 'subscription',
    isBatchCall: false,
    calls: [
      {
        path: req.path,
        procedure,
        batchIndex: 0,
        getRawInput: () => Promise.resolve(rawInput),
        result: () => input,
      },
    ],
    connectionParams,
    signal,
    url: req.url,
  };
  const ctx = await hooks.createContext(info);
  scope.ctx = ctx;
  const result: unknown = await callTRPCProcedure({
    router,
    path: req.path,
    getRawInput: () => Promise.resolve(rawInput),
    ctx,
    type: 'subscription',
    signal,
    batchIndex: 0,
  });
  if (isObservable(result)) return { kind: 'observable', value: result as Observable<unknown, unknown> };
  if (isAsyncIterable(result)) return { kind: 'iterable', value: result };
  throw new TRPCError({
    code: 'INTERNAL_SERVER_ERROR',
    message: `Subscription "${req.path}" did not return an observable or an async iterable`,
  });
}

/**
 * One subscription on its own event stream, in tRPC's dialect (distinct mode).
 *
 * Values are written straight to the sink as they come: a generator is not asked for the
 * next value until the socket has room, so a slow reader slows the procedure instead of
 * growing a queue. Observables cannot be paused; they get a byte bound instead.
 */
class DistinctStream implements HeartbeatTarget {
  wroteSinceTick = true;
  #closed = false;
  readonly #abort = new AbortController();
  readonly #env: StreamEnvironment;
  readonly #req: SSERequest;
  readonly #sink: SSEResponseSink;
  readonly #hooks: RequestHooks;
  readonly #scope: ErrorScope;
  readonly #done: Promise<void>;
  #resolveDone!: () => void;
  #iterator: AsyncIterator<unknown> | undefined;
  #subscription: Unsubscribable | undefined;
  #maxDurationTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #onRequestAbort = (): void => this.close();
  /** Whether byte arrays are sent tagged: only to clients that said they revive them. */
  readonly #tagBytes: boolean;

  constructor(env: StreamEnvironment, req: SSERequest, sink: SSEResponseSink, hooks: RequestHooks) {
    this.#env = env;
    this.#req = req;
    this.#sink = sink;
    this.#hooks = hooks;
    this.#scope = { path: req.path, type: 'unknown', input: undefined, ctx: undefined };
    this.#tagBytes = env.options.binary && acceptsTaggedBinary(req);
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** Resolves when the stream has ended, for whatever reason. */
  get done(): Promise<void> {
    return this.#done;
  }

  async run(): Promise<void> {
    const { options } = this.#env;
    if (this.#req.signal.aborted) return this.#finish();
    this.#req.signal.addEventListener('abort', this.#onRequestAbort, { once: true });
    if (this.#env.streams.size >= options.maxStreams) {
      this.#open();
      this.#fail(
        new TRPCError({
          code: 'SERVICE_UNAVAILABLE',
          message: `This server is at its limit of ${options.maxStreams} open streams; retry later`,
        }),
      );
      return;
    }
    this.#env.streams.add(this);
    let source: Source;
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
      if (source.kind === 'iterable') void source.value[Symbol.asyncIterator]().return?.().catch(() => undefined);
      return;
    }
    this.#open();
    if (options.maxDurationMs > 0) {
      this.#maxDurationTimer = setTimeout(() => this.close(), options.maxDurationMs);
    }
    if (source.kind === 'observable') this.#pipeObservable(source.value);
    else await this.#pipeIterable(source.value);
  }

  /** Ends the stream without `return`: the client reconnects and resumes. */
  close(): void {
    this.#finish();
  }

  ping(): void {
    this.#write(PING_FRAME);
  }

  #open(): void {
    const { reconnectAfterInactivityMs } = this.#env.options;
    this.#sink.start(200, eventStreamHeaders(this.#hooks.http2));
    this.#write(connectedFrame(reconnectAfterInactivityMs > 0 ? { reconnectAfterInactivityMs } : {}));
    if (!this.#closed) this.#env.heartbeat.add(this);
  }

  #write(frame: string): boolean {
    this.wroteSinceTick = true;
    return this.#sink.write(frame);
  }

  /** Serializes one value: bytes tagged (for clients that revive them), then the router's transformer, then JSON. */
  #toJSON(value: unknown): string {
    const { router } = this.#env.options;
    const json = JSON.stringify(router._def._config.transformer.output.serialize(this.#tagBytes ? tagBinary(value) : value));
    // `undefined` has no JSON form; the wire needs text.
    return json === undefined ? 'null' : json;
  }

  /** Writes one value; returns false when the reader is behind. */
  #writeValue(value: unknown): boolean {
    if (isTrackedEnvelope(value)) {
      return this.#write(encodeEvent({ id: String(value[0]), data: this.#toJSON(value[1]) }));
    }
    return this.#write(encodeEvent({ data: this.#toJSON(value) }));
  }

  async #pipeIterable(iterable: AsyncIterable<unknown>): Promise<void> {
    const iterator = iterable[Symbol.asyncIterator]();
    this.#iterator = iterator;
    try {
      while (!this.#closed) {
        const result = await iterator.next();
        if (this.#closed) return;
        if (result.done) {
          this.#write(RETURN_FRAME);
          this.#finish();
          return;
        }
        if (!this.#writeValue(result.value)) await this.#sink.drained();
      }
    } catch (cause) {
      if (!this.#closed) this.#fail(cause);
    }
  }

  #pipeObservable(observable: Observable<unknown, unknown>): void {
    const { maxBufferedBytes } = this.#env.options;
    const subscription = observable.subscribe({
      next: (value) => {
        if (this.#closed) return;
        try {
          this.#writeValue(value);
        } catch (cause) {
          this.#fail(cause);
          return;
        }
        // A push source cannot wait: past the bound, disconnect resumably instead of buffering.
        if (this.#sink.bufferedBytes > maxBufferedBytes) this.close();
      },
      error: (cause) => {
        if (!this.#closed) this.#fail(cause);
      },
      complete: () => {
        if (this.#closed) return;
        this.#write(RETURN_FRAME);
        this.#finish();
      },
    });
    // `subscribe` may have completed synchronously.
    if (this.#closed) subscription.unsubscribe();
    else this.#subscription = subscription;
  }

  /** Sends a failure in-band as `serialized-error`, reports it once, and ends the stream. */
  #fail(cause: unknown): void {
    const { router } = this.#env.options;
    const error = getTRPCErrorFromUnknown(cause);
    const scope = this.#scope;
    this.#hooks.onError({ error, type: scope.type, path: scope.path, input: scope.input, ctx: scope.ctx });
    let data: string;
    try {
      data = JSON.stringify(router._def._config.transformer.output.serialize(toErrorShape(router, error, scope)));
    } catch {
      // A broken errorFormatter or transformer must still leave the client a typed error.
      data = JSON.stringify({ message: error.message, code: -32603, data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 } });
    }
    this.#write(errorFrame(data));
    this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#req.signal.removeEventListener('abort', this.#onRequestAbort);
    this.#env.heartbeat.delete(this);
    this.#env.streams.delete(this);
    if (this.#maxDurationTimer) clearTimeout(this.#maxDurationTimer);
    // Tell the procedure first (its `opts.signal`), then stop iteration: an async generator
    // that awaits something wired to the signal wakes up and runs its `finally`.
    this.#abort.abort();
    this.#subscription?.unsubscribe();
    void this.#iterator?.return?.()?.catch(() => undefined);
    this.#sink.end();
    this.#resolveDone();
  }
}

/** Serves one distinct-mode subscription request; resolves when its stream has ended. */
export async function serveDistinctStream(
  env: StreamEnvironment,
  req: SSERequest,
  sink: SSEResponseSink,
  hooks: RequestHooks,
): Promise<void> {
  const stream = new DistinctStream(env, req, sink, hooks);
  await stream.run();
  await stream.done;
}
