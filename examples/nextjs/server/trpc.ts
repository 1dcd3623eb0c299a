import { initTRPC } from '@trpc/server';

/**
 * The context of every call. For a subscription it is built once per connection, from the
 * stream request (as with `wsLink`), so read per-user data here, not per event.
 */
export function createContext(opts: { req: Request }): { userAgent: string } {
  return { userAgent: opts.req.headers.get('user-agent') ?? '' };
}

export type Context = ReturnType<typeof createContext>;

const t = initTRPC.context<Context>().create();

export const router = t.router;
export const publicProcedure = t.procedure;
