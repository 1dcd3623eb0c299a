import { z } from 'zod';
import { publicProcedure, router } from '../shared/trpc.js';
import { FEED_TOPIC, type Feed, type FeedItem } from './feed.js';

export function createFeedRouter(feed: Feed) {
  return router({
    feed: router({
      /** The latest items: what a page shows when it opens, and refetches after a reset. */
      recent: publicProcedure.query(() => feed.store.recent(50)),
      /**
       * Every item from the client's last id on: the log replays what a reconnecting page
       * missed, or tells it (a reset) when it cannot, e.g. after a restart of the memory log.
       */
      onItem: publicProcedure
        .input(z.object({ lastEventId: z.string().nullish() }).optional())
        .subscription(({ input, signal }) =>
          feed.log.subscribe<FeedItem>(FEED_TOPIC, { lastEventId: input?.lastEventId, signal }),
        ),
      post: publicProcedure
        .input(z.object({ text: z.string().trim().min(1).max(200) }))
        .mutation(({ input }) => feed.post(input.text)),
    }),
  });
}

export type FeedRouter = ReturnType<typeof createFeedRouter>;
