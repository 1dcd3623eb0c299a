/**
 * The activity feed's data: items kept in a store (the app's database: what a page fetches
 * when it opens or after a reset) and published to the event log (what reaches open pages,
 * resumably). The store and the log are both in memory, or both on Redis.
 */
import type { Redis } from 'ioredis';
import type { EventLog } from 'trpc-sse/server';

export interface FeedItem {
  /** The store's sequence number: consecutive, so a page can see a gap or a repeat. */
  n: number;
  at: string;
  text: string;
}

export const FEED_TOPIC = 'feed';

/** The last items, newest last. */
export interface FeedStore {
  add(text: string): Promise<FeedItem>;
  recent(limit: number): Promise<FeedItem[]>;
}

const KEPT = 200;

export function createMemoryFeedStore(): FeedStore {
  const items: FeedItem[] = [];
  let n = 0;
  return {
    async add(text) {
      const item = { n: ++n, at: new Date().toISOString(), text };
      items.push(item);
      if (items.length > KEPT) items.shift();
      return item;
    },
    async recent(limit) {
      return items.slice(-limit);
    },
  };
}

/** The same on Redis: a counter and a capped list, so every server process shares them. */
export function createRedisFeedStore(redis: Redis, prefix = 'example-feed:'): FeedStore {
  return {
    async add(text) {
      const item = { n: await redis.incr(`${prefix}n`), at: new Date().toISOString(), text };
      await redis
        .multi()
        .lpush(`${prefix}items`, JSON.stringify(item))
        .ltrim(`${prefix}items`, 0, KEPT - 1)
        .exec();
      return item;
    },
    async recent(limit) {
      const items = (await redis.lrange(`${prefix}items`, 0, limit - 1)).map((text) => JSON.parse(text) as FeedItem);
      return items.sort((a, b) => a.n - b.n);
    },
  };
}

const PEOPLE = ['Ada', 'Grace', 'Linus', 'Barbara', 'Ken', 'Margaret'];
const ACTIONS = ['deployed', 'commented on', 'reviewed', 'merged', 'opened', 'closed'];
const THINGS = ['#42', 'the release notes', 'api/v2', 'the login page', 'PR #7', 'the search index'];

export interface Feed {
  log: EventLog;
  store: FeedStore;
  /** Stores an item, then publishes it: a page that fetches after this sees it either way. */
  post(text: string): Promise<FeedItem>;
  /** Stops the ticker; resolves once its posts in flight have finished (close the log after). */
  stop(): Promise<void>;
}

/** The feed, with a ticker posting made-up activity every `intervalMs` (0: none). */
export function createFeed(opts: { log: EventLog; store: FeedStore; intervalMs?: number }): Feed {
  const { log, store } = opts;
  const post = async (text: string): Promise<FeedItem> => {
    const item = await store.add(text);
    await log.publish<FeedItem>(FEED_TOPIC, item);
    return item;
  };
  let tick = 0;
  const intervalMs = opts.intervalMs ?? 1_500;
  // A post stores the item (numbering it), then publishes it: one cut off between the two by a
  // shutdown would leave a number nobody ever receives.
  const posting = new Set<Promise<void>>();
  const timer =
    intervalMs > 0
      ? setInterval(() => {
          tick++;
          const text = `${PEOPLE[tick % PEOPLE.length]!} ${ACTIONS[(tick * 7) % ACTIONS.length]!} ${THINGS[(tick * 5) % THINGS.length]!}`;
          const done = post(text).then(
            () => undefined,
            (error: unknown) => console.error('feed: could not post', error),
          );
          posting.add(done);
          void done.finally(() => posting.delete(done));
        }, intervalMs)
      : undefined;
  timer?.unref();
  return {
    log,
    store,
    post,
    stop: async () => {
      clearInterval(timer);
      await Promise.all(posting);
    },
  };
}
