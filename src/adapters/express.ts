/**
 * `trpc-sse/express`: one Express (4 or 5) middleware for a whole tRPC router.
 * @module
 */
import type { AnyTRPCRouter } from '@trpc/server';
import type { NextFunction, Request, Response } from 'express';
import type { SSECore } from '../server/core.js';
import { createNodeDispatcher, type NodeAdapterOptions } from './nodeHandler.js';

export type { TRPCHandlerOptions } from './nodeHandler.js';
export * from './gracefulShutdown.js';

/** Options of {@link createSSEMiddleware}. */
export type CreateSSEMiddlewareOptions<TRouter extends AnyTRPCRouter> = NodeAdapterOptions<TRouter, Request, Response>;

/** An Express middleware with its core attached (for shutdown and metrics). */
export interface SSEMiddleware {
  (req: Request, res: Response, next: NextFunction): void;
  readonly core: SSECore;
}

/**
 * Serves subscriptions as event streams and, by default, queries and mutations through tRPC's
 * own handler, so `app.use('/trpc', createSSEMiddleware({ router }))` replaces
 * `createExpressMiddleware`.
 *
 * @see https://trpc.io/docs/server/adapters/express
 */
export function createSSEMiddleware<TRouter extends AnyTRPCRouter>(
  opts: CreateSSEMiddlewareOptions<TRouter>,
): SSEMiddleware {
  const dispatcher = createNodeDispatcher(opts);
  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    // Mounted at '/trpc', Express gives `/greet` for `/trpc/greet`.
    let path: string;
    try {
      path = decodeURIComponent(req.path.slice(1));
    } catch {
      path = req.path.slice(1);
    }
    // Not ours: on to the next handler. (An open stream keeps only the `catch`, not the closure.)
    dispatcher.dispatch(req, res, path, () => next()).catch(next);
  };
  return Object.assign(middleware, { core: dispatcher.core });
}
