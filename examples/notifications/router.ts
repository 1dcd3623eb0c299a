import { z } from 'zod';
import { authedProcedure, router } from '../shared/trpc.js';
import { topicOf, type NotificationEvent, type Notifier } from './store.js';

export function createNotificationsRouter(notifier: Notifier) {
  return router({
    notifications: router({
      /** The signed-in user's inbox: what a page shows first, and refetches after a reset. */
      inbox: authedProcedure.query(({ ctx }) => notifier.store.inbox(ctx.session.user)),
      /**
       * The signed-in user's changes, from the page's last id. The topic comes from the
       * connection's session, never from the input: no page can ask for someone else's.
       */
      onEvent: authedProcedure
        .input(z.object({ lastEventId: z.string().nullish() }).optional())
        .subscription(({ ctx, input, signal }) =>
          notifier.log.subscribe<NotificationEvent>(topicOf(ctx.session.user), {
            lastEventId: input?.lastEventId,
            signal,
          }),
        ),
      send: authedProcedure
        .input(z.object({ to: z.string().trim().min(1).max(40), text: z.string().trim().min(1).max(200) }))
        .mutation(({ ctx, input }) => notifier.notify(input.to, ctx.session.user, input.text)),
      markAllRead: authedProcedure.mutation(({ ctx }) => notifier.markRead(ctx.session.user)),
    }),
  });
}

export type NotificationsRouter = ReturnType<typeof createNotificationsRouter>;
