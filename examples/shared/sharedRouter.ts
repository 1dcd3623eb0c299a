/** What every example page uses besides its own procedures: signing in, and the connection panel's feed. */
import { on } from 'node:events';
import { EventEmitter } from 'node:events';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { ServerStatsSnapshot } from './serverStats.js';
import { authedProcedure, publicProcedure, router } from './trpc.js';

export const sharedRouter = router({
  auth: router({
    signIn: publicProcedure
      .input(z.object({ user: z.string().trim().min(1).max(40) }))
      .mutation(({ ctx, input }) => ctx.sessions.signIn(input.user)),
    /** A new token; the old one stops working. Streams already open keep their connection's. */
    refresh: authedProcedure.mutation(({ ctx }) => {
      const refreshed = ctx.token ? ctx.sessions.refresh(ctx.token) : null;
      if (!refreshed) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Token already replaced' });
      return refreshed;
    }),
    /**
     * Who this connection is signed in as: a subscription's context is built once per
     * connection, so this changes only when the page opens a new connection.
     */
    connectionSession: authedProcedure.subscription(async function* ({ ctx, signal }) {
      yield ctx.session;
      if (signal) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    }),
  }),
  connection: router({
    /** The server's figures, read twice a second and sent when they changed. */
    stats: publicProcedure.subscription(async function* ({ ctx, signal }) {
      const changes = new EventEmitter();
      const poll = setInterval(() => changes.emit('change'), 500);
      try {
        let last = '';
        const current = (): ServerStatsSnapshot | null => {
          const snapshot = ctx.stats.snapshot();
          const key = JSON.stringify(snapshot);
          if (key === last) return null;
          last = key;
          return snapshot;
        };
        yield current()!;
        for await (const _ of on(changes, 'change', signal ? { signal } : {})) {
          const snapshot = current();
          if (snapshot) yield snapshot;
        }
      } finally {
        clearInterval(poll);
      }
    }),
  }),
});
