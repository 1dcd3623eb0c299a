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
export interface CreateSSEHandlerOptions<TRouter extends AnyTRPCRouter>
  extends NodeAdapterOptions<TRouter, NodeRequest, NodeResponse> {
  /**
   * URL path the tRPC endpoint is mounted at; requests outside it get 404.
   * @default '/'
   */
  basePath?: string;
}

/** A Node request handler with its core attached (for shutdown and metrics). */
export interface SSEHandler {
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
  const { core, dispatch } = createNodeDispatcher(opts);
  // Not async: an open stream's promise is the core's own, with no suspended function here.
  const handler = (req: NodeRequest, res: NodeResponse): Promise<void> => {
    const path = procedurePath(req.url ?? '/', basePath);
    if (path !== null) return dispatch(req, res, path, notFound);
    try {
      notFound(req, res);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return Object.assign(handler, { core });
}

function notFound(_req: NodeRequest, res: NodeResponse): void {
  if (!res.headersSent) res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('Not Found');
}
