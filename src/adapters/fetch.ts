/**
 * `trpc-sse/fetch`: a `Request → Response` handler for fetch runtimes (Next.js app router,
 * Hono, Bun, Deno, Cloudflare-style workers).
 * @module
 */
import type { AnyTRPCRouter, inferRouterContext } from '@trpc/server';
import { fetchRequestHandler, type FetchHandlerRequestOptions } from '@trpc/server/adapters/fetch';
import type { TRPCRequestInfo } from '@trpc/server/http';
import { createSSECore, type SSECore } from '../server/core.js';
import { bodyTooLarge, checkDeclaredLength } from '../server/bodyLimit.js';
import type { RequestHooks, SSEServerOptions } from '../server/options.js';
import type { SSERequest, SSEResponseSink } from '../server/request.js';

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
  createContext?: (opts: { req: Request; resHeaders: Headers; info: TRPCRequestInfo }) =>
    | inferRouterContext<TRouter>
    | Promise<inferRouterContext<TRouter>>;
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

/**
 * A `ReadableStream` body fed by the core. Backpressure comes from the stream's queue: the
 * core waits while `desiredSize ≤ 0` and resumes on the next `pull`. Cancelling the body
 * (the runtime's way of saying the client left) calls `onCancel`.
 */
function streamingSink(
  onStart: (status: number, headers: Record<string, string>, body: ReadableStream<Uint8Array>) => void,
  onCancel: () => void,
): SSEResponseSink {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  // Every writer waiting for room (a multiplexed stream has one per subscription) shares one promise.
  let waiting: { promise: Promise<void>; resolve: () => void } | undefined;
  const resume = (): void => {
    const current = waiting;
    waiting = undefined;
    current?.resolve();
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        resume();
      },
      cancel() {
        closed = true;
        resume();
        onCancel();
      },
    },
    { highWaterMark: HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
  );
  return {
    start(status, headers) {
      onStart(status, headers, body);
    },
    write(chunk) {
      if (closed) return true;
      controller.enqueue(encoder.encode(chunk));
      return (controller.desiredSize ?? 0) > 0;
    },
    drained() {
      if (closed || (controller.desiredSize ?? 0) > 0) return Promise.resolve();
      if (!waiting) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        waiting = { promise, resolve };
      }
      return waiting.promise;
    },
    get bufferedBytes() {
      return closed ? 0 : HIGH_WATER_MARK - (controller.desiredSize ?? 0);
    },
    end() {
      if (closed) return;
      closed = true;
      resume();
      controller.close();
    },
  };
}

/** Reads a fetch request body up to `maxBytes`, without buffering more. */
async function readFetchBody(req: Request, maxBytes: number): Promise<string> {
  checkDeclaredLength(req.headers.get('content-length'), maxBytes);
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

/** A reusable fetch handler with its core attached (create it once, at module scope). */
export interface SSEFetchHandler {
  (req: Request): Promise<Response>;
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
export function createSSEFetchHandler<TRouter extends AnyTRPCRouter>(opts: SSEFetchHandlerOptions<TRouter>): SSEFetchHandler {
  const core = createSSECore(opts);
  return Object.assign((req: Request) => handleFetchRequest(core, opts, req), { core });
}

async function handleFetchRequest<TRouter extends AnyTRPCRouter>(
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
  const sseReq: SSERequest = {
    method: req.method.toUpperCase(),
    path: located.path,
    searchParams: located.url.searchParams,
    headers: req.headers,
    url: located.url,
    signal: abort.signal,
    readBody: (maxBytes) => readFetchBody(req, maxBytes),
  };
  const kind = await core.classify(sseReq);
  const hooks = (resHeaders: Headers): RequestHooks => ({
    http2: false,
    createContext: async (info) => (opts.createContext ? await opts.createContext({ req, resHeaders, info }) : {}),
    onError: (err) => opts.onError?.({ ...err, req } as Parameters<NonNullable<typeof opts.onError>>[0]),
  });
  if (kind === 'control') {
    req.signal.removeEventListener('abort', onRequestAbort);
    const answer = await core.handleControl(sseReq, hooks(new Headers()));
    return new Response(answer.status === 204 ? null : answer.body, { status: answer.status, headers: answer.headers });
  }
  if (kind === null) {
    req.signal.removeEventListener('abort', onRequestAbort);
    if (opts.queriesAndMutations === false) return new Response('Not Found', { status: 404 });
    return fetchRequestHandler({
      ...opts.queriesAndMutations,
      router: opts.router,
      req,
      endpoint: opts.endpoint,
      createContext: ({ req: request, resHeaders, info }) =>
        (opts.createContext ? opts.createContext({ req: request, resHeaders, info }) : {}) as never,
      ...(opts.onError ? { onError: opts.onError } : {}),
    } as FetchHandlerRequestOptions<TRouter>);
  }
  const resHeaders = new Headers();
  return new Promise<Response>((resolve) => {
    const sink = streamingSink(
      (status, headers, body) => {
        for (const [key, value] of Object.entries(headers)) resHeaders.set(key, value);
        resolve(new Response(body, { status, headers: resHeaders }));
      },
      () => abort.abort(),
    );
    void core
      .serveStream(sseReq, sink, hooks(resHeaders))
      .finally(() => {
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
 * (`createContext`, `onError`, `endpoint`) are taken from each call.
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
