import { z } from 'zod';
import { events, MESSAGES, TICKS, type Message, type Tick } from './events';
import { publicProcedure, router } from './trpc';

/** The resume id: the client sends the last tracked id it has, on every reconnect. */
const resumable = z.object({ lastEventId: z.string().nullish() }).optional();

export const appRouter = router({
  /** A query, served by tRPC's own fetch handler behind the same route. */
  info: publicProcedure.query(() => {
    const { startedAt, log, tick } = events();
    return { startedAt, epoch: log.epoch, tick: tick() };
  }),

  /** A mutation: publishes to the log, which every `onMessage` subscriber receives. */
  post: publicProcedure.input(z.object({ text: z.string().trim().min(1).max(200) })).mutation(async ({ input }) => ({
    id: await events().log.publish<Message>(MESSAGES, { text: input.text, at: new Date().toISOString() }),
  })),

  /** The server's clock, one tracked event per tick: resumed exactly after any break. */
  onTick: publicProcedure
    .input(resumable)
    .subscription(({ input, signal }) =>
      events().log.subscribe<Tick>(TICKS, { lastEventId: input?.lastEventId, signal }),
    ),

  /** Messages posted by anyone, tracked too. */
  onMessage: publicProcedure
    .input(resumable)
    .subscription(({ input, signal }) =>
      events().log.subscribe<Message>(MESSAGES, { lastEventId: input?.lastEventId, signal }),
    ),
});

export type AppRouter = typeof appRouter;
