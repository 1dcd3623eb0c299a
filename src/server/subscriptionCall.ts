import { callTRPCProcedure, TRPCError, type AnyTRPCProcedure, type AnyTRPCRouter } from '@trpc/server';
import { isObservable, type Observable } from '@trpc/server/observable';
import { findProcedure } from './procedures.js';
import { inputWithResumeId } from './resumeInput.js';

/** What a subscription procedure returned: something to iterate, or something to observe. */
export type SubscriptionSource =
  { kind: 'iterable'; value: AsyncIterable<unknown> } | { kind: 'observable'; value: Observable<unknown, unknown> };

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && Symbol.asyncIterator in value;
}

/**
 * The subscription procedure at `path`; `NOT_FOUND` when there is none, and
 * `METHOD_NOT_SUPPORTED` when the path is a query or a mutation.
 */
export async function lookupSubscription(router: AnyTRPCRouter, path: string): Promise<AnyTRPCProcedure> {
  const procedure = await findProcedure(router, path);
  if (!procedure) {
    throw new TRPCError({ code: 'NOT_FOUND', message: `No procedure found on path "${path}"` });
  }
  if (procedure._def.type !== 'subscription') {
    throw new TRPCError({
      code: 'METHOD_NOT_SUPPORTED',
      message: `"${path}" is a ${procedure._def.type}, not a subscription`,
    });
  }
  return procedure;
}

/** Calls a subscription procedure (middlewares, input parsing, resolver) and checks its result. */
export async function callSubscription(opts: {
  router: AnyTRPCRouter;
  procedure: AnyTRPCProcedure;
  path: string;
  input: unknown;
  lastEventId: string | null;
  ctx: unknown;
  signal: AbortSignal;
}): Promise<SubscriptionSource> {
  const rawInput = await inputWithResumeId(opts.procedure, opts.input, opts.lastEventId);
  const result: unknown = await callTRPCProcedure({
    router: opts.router,
    path: opts.path,
    getRawInput: () => Promise.resolve(rawInput),
    ctx: opts.ctx,
    type: 'subscription',
    signal: opts.signal,
    batchIndex: 0,
  });
  if (isObservable(result)) return { kind: 'observable', value: result };
  if (isAsyncIterable(result)) return { kind: 'iterable', value: result };
  throw new TRPCError({
    code: 'INTERNAL_SERVER_ERROR',
    message: `Subscription "${opts.path}" did not return an observable or an async iterable`,
  });
}
