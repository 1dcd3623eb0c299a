/**
 * The tRPC instance every example's router is built with, so the demo can merge them into
 * one router behind one endpoint (and one connection per page).
 */
import { initTRPC, TRPCError } from '@trpc/server';
import type { ServerStats } from './serverStats.js';
import type { Session, Sessions } from './sessions.js';

export interface Context {
  /** Who is calling, from the `Authorization` header; for a subscription, the connection's. */
  session: Session | null;
  /** The bearer token itself, so `auth.refresh` can replace it. */
  token: string | null;
  sessions: Sessions;
  stats: ServerStats;
}

const t = initTRPC.context<Context>().create();

export const router = t.router;
export const mergeRouters = t.mergeRouters;
export const publicProcedure = t.procedure;

/** Procedures that need a signed-in user; `ctx.session` is then never null. */
export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.session) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Sign in first' });
  return next({ ctx: { session: ctx.session } });
});
