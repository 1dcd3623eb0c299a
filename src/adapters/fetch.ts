/**
 * `trpc-sse/fetch`: a `Request → Response` handler for fetch runtimes (Next.js app router,
 * Hono, Bun, Deno, Cloudflare-style workers).
 * @module
 */
import type { AnyTRPCRouter, inferRouterContext } from '@trpc/server';
import { fetchRequestHandler, type FetchHandlerRequestOptions } from '@trpc/server/adapters/fetch';
import type { TRPCRequestInfo } from '@trpc/server/http';
import { createSSECore, type SSECore } from '../server/core.js';
import { TRPCError } from '@trpc/server';
import { bodyTooLarge, checkDeclaredLength } from '../server/bodyLimit.js';
import type { RequestHooks, SSEServerOptions } from '../server/options.js';
import type { ClientGoneListener, SSERequest, SSEResponseSink } from '../server/request.js';

export * from './gracefulShutdown.js';

/** Options of tRPC's fetch handler, used for queries and mutations. */
export type FetchTRPCHandlerOptions<TRouter extends AnyTRPCRouter> = Pick<
  FetchHandlerRequestOptions<TRouter>,
  'allowBatching' | 'allowMethodOverride' | 'responseMeta'
>;

/** Options of {@link sseFetchHandler} and {@link createSSEFetchHandler}. */
export interface SSEFetchHandlerOptions<TRouter extends AnyTRPCRouter> extends SSEServerOptions<TRouter, Request> {
  /** Path the endpoint is mounted at, e.g. `/api/trpc`. */
  endpoint: string;
  /**
   * Builds the context, as tRPC's fetch adapter does: `{ req, resHeaders, info }`.
   * @default () => ({})
   */
  createContext?: (opts: {
    req: Request;
    resHeaders: Headers;
    info: TRPCRequestInfo;
  }) => inferRouterContext<TRouter> | Promise<inferRouterContext<TRouter>>;
  /**
   * Serve queries and mutations too, through tRPC's `fetchRequestHandler` (with these
   * options). `false` answers them 404.
   * @default {}
   */
  queriesAndMutations?: FetchTRPCHandlerOptions<TRouter> | false;
}

/** Bytes a stream queues before the writer waits for the reader. */
const HIGH_WATER_MARK = 64 * 1024;

const encoder = new TextEncoder();

/** How the body's queue measures its chunks: one strategy for every stream. */
const QUEUING_STRATEGY: QueuingStrategy<Uint8Array> = {
  highWaterMark: HIGH_WATER_MARK,
  size: (chunk) => chunk.byteLength,
};

/**
 * A `ReadableStream` body fed by the core. Backpressure comes from the stream's queue: the
 * core waits while `desiredSize ≤ 0` and resumes on the next `pull`. Cancelling the body
 * (the runtime's way of saying the client left) calls `onCancel`. A class rather than an
 * object of closures: an open stream holds one, so its methods live on the prototype.
 */
class StreamingSink implements SSEResponseSink {
  readonly #body: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #closed = false;
  /** Every writer waiting for room (a multiplexed stream has one per subscription) shares one promise. */
  #waiting: { promise: Promise<void>; resolve: () => void } | undefined;
  readonly #onStart: (status: number, headers: Record<string, string>, body: ReadableStream<Uint8Array>) => void;
  readonly #onCancel: () => void;

  constructor(
    onStart: (status: number, headers: Record<string, string>, body: ReadableStream<Uint8Array>) => void,
    onCancel: () => void,
  ) {
    this.#onStart = onStart;
    this.#onCancel = onCancel;
    this.#body = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#controller = c;
        },
        pull: () => this.#resume(),
        cancel: () => {
          this.#closed = true;
          this.#resume();
          this.#onCancel();
        },
      },
      QUEUING_STRATEGY,
    );
  }

  #resume(): void {
    const current = this.#waiting;
    this.#waiting = undefined;
    current?.resolve();
  }

  start(status: number, headers: Record<string, string>): void {
    this.#onStart(status, headers, this.#body);
  }

  write(chunk: string): boolean {
    if (this.#closed) return true;
    this.#controller.enqueue(encoder.encode(chunk));
    return (this.#controller.desiredSize ?? 0) > 0;
  }

  drained(): Promise<void> {
    if (this.#closed || (this.#controller.desiredSize ?? 0) > 0) return Promise.resolve();
    if (!this.#waiting) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#waiting = { promise, resolve };
    }
    return this.#waiting.promise;
  }

  get bufferedBytes(): number {
    return this.#closed ? 0 : HIGH_WATER_MARK - (this.#controller.desiredSize ?? 0);
  }

  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#resume();
    this.#controller.close();
  }

  /** Errors the body: the queue is dropped, and the runtime aborts the response. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#resume();
    this.#controller.error(new Error('trpc-sse: the stream was cut off (its reader fell too far behind)'));
  }
}

/** Reads a fetch request body up to `maxBytes`, without buffering more. */
async function readFetchBody(req: Request, maxBytes: number): Promise<string> {
  checkDeclaredLength(req.headers.get('content-length'), maxBytes);
  // A middleware that read the body (Hono's `c.req.json()`, a logger) leaves nothing to read:
  // say so rather than wait on, or throw from, a spent stream.
  if (req.bodyUsed || req.body?.locked) {
    throw new TRPCError({
      code: 'BAD_REQUEST',
      message:
        `The request body was already read by another middleware (${req.bodyUsed ? 'bodyUsed' : 'its stream is locked'}): ` +
        'mount trpc-sse before it, or have that middleware read a req.clone()',
    });
  }
  if (!req.body) return '';
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      void reader.cancel().catch(() => undefined);
      throw bodyTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const decoder = new TextDecoder();
  return chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join('') + decoder.decode();
}

function procedurePath(req: Request, endpoint: string): { url: URL; path: string } | null {
  const url = new URL(req.url);
  const base = endpoint.endsWith('/') ? endpoint : endpoint + '/';
  // The endpoint itself, with or without its slash, is the multiplexed protocol's.
  if (url.pathname === base || url.pathname + '/' === base) return { url, path: '' };
  if (!url.pathname.startsWith(base)) return null;
  try {
    return { url, path: decodeURIComponent(url.pathname.slice(base.length)) };
  } catch {
    return null;
  }
}

/** A fetch request described to the core (its body read through {@link readFetchBody}). */
class FetchSSERequest implements SSERequest {
  readonly method: string;
  readonly path: string;
  readonly url: URL;
  readonly signal: AbortSignal;
  readonly #req: Request;
  #goneListener: ClientGoneListener | null = null;

  constructor(req: Request, url: URL, path: string, signal: AbortSignal) {
    this.method = req.method.toUpperCase();
    this.path = path;
    this.url = url;
    this.signal = signal;
    this.#req = req;
  }

  get searchParams(): URLSearchParams {
    return this.url.searchParams;
  }

  get headers(): Headers {
    return this.#req.headers;
  }

  readBody(maxBytes: number): Promise<string> {
    return readFetchBody(this.#req, maxBytes);
  }

  onGone(listener: ClientGoneListener | null): boolean {
    if (this.signal.aborted) return false;
    if (listener && !this.#goneListener) this.signal.addEventListener('abort', this, { once: true });
    if (!listener && this.#goneListener) this.signal.removeEventListener('abort', this);
    this.#goneListener = listener;
    return true;
  }

  /** The signal aborted: tell the listener. */
  handleEvent(): void {
    const listener = this.#goneListener;
    this.#goneListener = null;
    listener?.clientGone();
  }
}

/** `createContext` and `onError` for one request, as methods of one small object. */
class FetchRequestHooks<TRouter extends AnyTRPCRouter> implements RequestHooks {
  readonly http2 = false;
  readonly #opts: SSEFetchHandlerOptions<TRouter>;
  readonly #req: Request;
  readonly #resHeaders: Headers;

  constructor(opts: SSEFetchHandlerOptions<TRouter>, req: Request, resHeaders: Headers) {
    this.#opts = opts;
    this.#req = req;
    this.#resHeaders = resHeaders;
  }

  async createContext(info: TRPCRequestInfo): Promise<unknown> {
    const opts = this.#opts;
    return opts.createContext ? await opts.createContext({ req: this.#req, resHeaders: this.#resHeaders, info }) : {};
  }

  onError(err: Parameters<RequestHooks['onError']>[0]): void {
    this.#opts.onError?.({ ...err, req: this.#req });
  }
}

/** A reusable fetch handler with its core attached (create it once, at module scope). */
export interface SSEFetchHandler {
  (req: Request): Promise<Response>;
  /**
   * The core every request of this handler shares: `core.openStreams` for metrics,
   * `drainForShutdown(handler)` or `installGracefulShutdown({ cores: [handler] })` for a
   * deploy, `core.drain({ withinMs })` to move clients without shutting down.
   */
  readonly core: SSECore;
}

/**
 * Builds a fetch handler once: the core (heartbeat, open streams) is shared by every request.
 *
 * @example
 * ```ts
 * // app/api/trpc/[trpc]/route.ts
 * const handler = createSSEFetchHandler({ router: appRouter, endpoint: '/api/trpc' });
 * export { handler as GET, handler as POST };
 * ```
 */
export function createSSEFetchHandler<TRouter extends AnyTRPCRouter>(
  opts: SSEFetchHandlerOptions<TRouter>,
): SSEFetchHandler {
  const core = createSSECore(opts);
  const handler = (req: Request): Promise<Response> => handleFetchRequest(core, opts, req);
  // Read-only at run time too: the core a shutdown drains is the one requests use.
  return Object.defineProperty(handler, 'core', { value: core, enumerable: true }) as SSEFetchHandler;
}

async function handleFetchRequest<TRouter extends AnyTRPCRouter>(
  core: SSECore,
  opts: SSEFetchHandlerOptions<TRouter>,
  req: Request,
): Promise<Response> {
  const response = await answerFetchRequest(core, opts, req);
  // A process that is going away asks for a new connection, or a client's retry (of a stream
  // refused here) would come back on the kept-alive one, be refused again and keep the
  // listener from ever closing. Runtimes speaking HTTP/2 drop the header.
  if (core.shuttingDown) {
    try {
      response.headers.set('connection', 'close');
    } catch {
      // Immutable headers (a `Response.redirect`): this answer keeps its connection.
    }
  }
  return response;
}

async function answerFetchRequest<TRouter extends AnyTRPCRouter>(
  core: SSECore,
  opts: SSEFetchHandlerOptions<TRouter>,
  req: Request,
): Promise<Response> {
  const located = procedurePath(req, opts.endpoint);
  if (!located) return new Response('Not Found', { status: 404 });
  // The client leaving shows as the request's signal or as the body being cancelled.
  const abort = new AbortController();
  const onRequestAbort = (): void => abort.abort();
  if (req.signal.aborted) abort.abort();
  else req.signal.addEventListener('abort', onRequestAbort, { once: true });
  const sseReq = new FetchSSERequest(req, located.url, located.path, abort.signal);
  const kind = await core.classify(sseReq);
  if (kind === 'control') {
    req.signal.removeEventListener('abort', onRequestAbort);
    const answer = await core.handleControl(sseReq, new FetchRequestHooks(opts, req, new Headers()));
    return new Response(answer.status === 204 ? null : answer.body, { status: answer.status, headers: answer.headers });
  }
  if (kind === null) {
    req.signal.removeEventListener('abort', onRequestAbort);
    if (opts.queriesAndMutations === false) return new Response('Not Found', { status: 404 });
    // Asserted: for a generic router TypeScript cannot resolve the conditional part of tRPC's
    // options type, so options picked from it (`responseMeta`) do not check against it again
    // on every release of the peer range (11.25.2 refuses them).
    return fetchRequestHandler({
      ...opts.queriesAndMutations,
      router: opts.router,
      req,
      endpoint: opts.endpoint,
      createContext: ({ req: request, resHeaders, info }) =>
        opts.createContext ? opts.createContext({ req: request, resHeaders, info }) : {},
      ...(opts.onError ? { onError: opts.onError } : {}),
    } as FetchHandlerRequestOptions<TRouter>);
  }
  const resHeaders = new Headers();
  return new Promise<Response>((resolve) => {
    const sink = new StreamingSink(
      (status, headers, body) => {
        for (const [key, value] of Object.entries(headers)) resHeaders.set(key, value);
        resolve(new Response(body, { status, headers: resHeaders }));
      },
      () => abort.abort(),
    );
    void core.serveStream(sseReq, sink, new FetchRequestHooks(opts, req, resHeaders)).finally(() => {
      req.signal.removeEventListener('abort', onRequestAbort);
      // Only takes effect when the client left before the stream started: nothing was sent.
      resolve(new Response(null, { status: 499 }));
    });
  });
}

/**
 * Handles one request: `sseFetchHandler({ req, endpoint, router, createContext })`, the
 * shape of tRPC's `fetchRequestHandler`. The core (heartbeat, open streams, limits) is
 * created on the first call for a router and shared by later calls; per-request options
 * (`createContext`, `onError`, `endpoint`) are taken from each call. That core is not
 * reachable: for graceful shutdown or metrics, use {@link createSSEFetchHandler}, whose
 * handler carries it as `.core`.
 */
export function sseFetchHandler<TRouter extends AnyTRPCRouter>(
  opts: SSEFetchHandlerOptions<TRouter> & { req: Request },
): Promise<Response> {
  let core = coresByRouter.get(opts.router);
  if (!core) {
    core = createSSECore(opts);
    coresByRouter.set(opts.router, core);
  }
  return handleFetchRequest(core, opts, opts.req);
}

const coresByRouter = new WeakMap<AnyTRPCRouter, SSECore>();
