import { getTRPCErrorFromUnknown, type AnyTRPCRouter, type TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import type { RequestHooks } from './options.js';

/** Where an error happened, for the router's `errorFormatter` and the `onError` hook. */
export interface ErrorScope {
  path: string | undefined;
  type: 'query' | 'mutation' | 'subscription' | 'unknown';
  input: unknown;
  ctx: unknown;
}

/**
 * The error shape tRPC clients read (`{ message, code, data: { code, httpStatus, path } }`),
 * passed through the router's own `errorFormatter`, exactly as tRPC's HTTP handlers build it.
 */
export function toErrorShape(router: AnyTRPCRouter, error: TRPCError, scope: ErrorScope): unknown {
  const config = router._def._config;
  const data: { code: TRPCError['code']; httpStatus: number; stack?: string; path?: string } = {
    code: error.code,
    httpStatus: getHTTPStatusCodeFromError(error),
  };
  if (config.isDev && typeof error.stack === 'string') data.stack = error.stack;
  if (typeof scope.path === 'string') data.path = scope.path;
  const shape = { message: error.message, code: TRPC_ERROR_CODES_BY_KEY[error.code], data };
  return config.errorFormatter({
    error,
    type: scope.type,
    path: scope.path,
    input: scope.input,
    ctx: scope.ctx,
    shape,
  });
}

/**
 * Turns a failure into a `TRPCError` and reports it to `onError`, once: callers report a
 * failure here and nowhere else.
 */
export function reportFailure(hooks: Pick<RequestHooks, 'onError'>, cause: unknown, scope: ErrorScope): TRPCError {
  const error = getTRPCErrorFromUnknown(cause);
  try {
    hooks.onError({ error, type: scope.type, path: scope.path, input: scope.input, ctx: scope.ctx });
  } catch {
    // A throwing onError must not take the stream (or the process) down with it.
  }
  return error;
}
