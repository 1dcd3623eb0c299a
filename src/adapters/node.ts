/**
 * `trpc-sse/node`: a `(req, res)` handler for `node:http` and `node:http2` (h2c and TLS).
 * @module
 */
import type { AnyTRPCRouter } from '@trpc/server';
import type { SSECore } from '../server/core.js';
import { createNodeDispatcher, type NodeAdapterOptions } from './nodeHandler.js';
import type { NodeRequest, NodeResponse } from './nodeStream.js';

export type { NodeRequest, NodeResponse } from './nodeStream.js';
export type { TRPCHandlerOptions } from './nodeHandler.js';
export * from './gracefulShutdown.js';

/** Options of {@link createSSEHandler}. */
export interface CreateSSEHandlerOptions<TRouter extends AnyTRPCRouter> extends NodeAdapterOptions<
  TRouter,
  NodeRequest,
  NodeResponse
> {
  /**
   * URL path the tRPC endpoint is mounted at; requests outside it get 404.
   * @default '/'
   */
  basePath?: string;
}

/** A Node request handler with its core attached (for shutdown and metrics). */
export interface SSEHandler {
  /**
   * Serves one request. Resolves once it is answered (a stream: once it has ended); never
   * rejects: a failure is logged and answered with a 500, or the response is cut.
   */
  (req: NodeRequest, res: NodeResponse): Promise<void>;
  readonly core: SSECore;
}

function procedurePath(url: string, basePath: string): string | null {
  const pathname = url.split('?', 1)[0] ?? '';
  // The endpoint itself, with or without its slash, is the multiplexed protocol's.
  if (pathname === basePath || pathname + '/' === basePath) return '';
  if (!pathname.startsWith(basePath)) return null;
  try {
    return decodeURIComponent(pathname.slice(basePath.length));
  } catch {
    return null;
  }
}

/**
 * Serves a tRPC router over HTTP: subscriptions as event streams, queries and mutations
 * through tRPC's own handler.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createSSEHandler } from 'trpc-sse/node';
 * createServer(createSSEHandler({ router: appRouter, basePath: '/trpc/' })).listen(3000);
 * ```
 * @see https://trpc.io/docs/server/adapters/standalone
 */
export function createSSEHandler<TRouter extends AnyTRPCRouter>(opts: CreateSSEHandlerOptions<TRouter>): SSEHandler {
  const base = opts.basePath ?? '/';
  const basePath = base.endsWith('/') ? base : base + '/';
  const dispatcher = createNodeDispatcher(opts);
  // Not async: an open stream's promise is the core's own, with no suspended function here.
  // It never rejects: `http.createServer` ignores a listener's promise, so a rejection would
  // be unhandled and end the process. A request that fails is answered (or cut) instead.
  const handler = (req: NodeRequest, res: NodeResponse): Promise<void> => {
    const path = procedurePath(req.url ?? '/', basePath);
    if (path === null) {
      try {
        notFound(req, res);
      } catch (error) {
        failed(res, error);
      }
      return Promise.resolve();
    }
    return dispatcher.dispatch(req, res, path, notFound).catch((error: unknown) => failed(res, error));
  };
  return Object.assign(handler, { core: dispatcher.core });
}

/** A request the handler could not serve: a 500 if nothing was sent yet, else the response is cut; logged either way. */
function failed(res: NodeResponse, error: unknown): void {
  console.error('trpc-sse: a request failed', error);
  try {
    if (!res.headersSent) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('Internal Server Error');
      return;
    }
  } catch {
    // Cannot answer: cut it below.
  }
  if ('stream' in res) res.stream.destroy();
  else res.destroy();
}

function notFound(_req: NodeRequest, res: NodeResponse): void {
  if (!res.headersSent) res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('Not Found');
}
