/**
 * The activity feed as an app of its own. The log and the store are in memory unless a Redis
 * URL is given; then both live on Redis and a restart of this server loses nothing.
 */
import { Redis } from 'ioredis';
import { createRedisEventLog } from 'trpc-sse/redis';
import { createMemoryEventLog } from 'trpc-sse/server';
import { startExampleServer, type ExampleServer } from '../shared/exampleServer.js';
import { sharedRouter } from '../shared/sharedRouter.js';
import { mergeRouters } from '../shared/trpc.js';
import { createFeed, createMemoryFeedStore, createRedisFeedStore, type Feed } from './feed.js';
import { createFeedRouter } from './router.js';

export interface FeedBackend {
  feed: Feed;
  close(): Promise<void>;
}

/** The feed on the memory log (`redisUrl` absent) or on Redis. */
function createFeedBackend(opts: { redisUrl?: string | undefined; intervalMs?: number }): FeedBackend {
  const intervalMs = opts.intervalMs ?? 1_500;
  if (!opts.redisUrl) {
    const log = createMemoryEventLog();
    const feed = createFeed({ log, store: createMemoryFeedStore(), intervalMs });
    return {
      feed,
      close: async () => {
        await feed.stop();
        await log.close();
      },
    };
  }
  const redis = new Redis(opts.redisUrl);
  const log = createRedisEventLog({ redis });
  const feed = createFeed({ log, store: createRedisFeedStore(redis), intervalMs });
  return {
    feed,
    close: async () => {
      await feed.stop();
      await log.close();
      redis.disconnect();
    },
  };
}

const appRouter = (feed: Feed) => mergeRouters(sharedRouter, createFeedRouter(feed));
export type ActivityFeedAppRouter = ReturnType<typeof appRouter>;

export async function startActivityFeedApp(
  opts: { port?: number; host?: string; redisUrl?: string | undefined; intervalMs?: number } = {},
): Promise<ExampleServer> {
  const backend = createFeedBackend(opts);
  return startExampleServer({
    router: appRouter(backend.feed),
    pages: [
      {
        path: '/',
        title: 'Activity feed',
        intro: `Live on the ${opts.redisUrl ? 'Redis' : 'memory'} event log: a page that reconnects resumes where it was; one the log cannot resume says so and reloads.`,
        entry: new URL('./page.ts', import.meta.url),
      },
    ],
    ...(opts.port === undefined ? {} : { port: opts.port }),
    ...(opts.host === undefined ? {} : { host: opts.host }),
    onClose: () => backend.close(),
  });
}
