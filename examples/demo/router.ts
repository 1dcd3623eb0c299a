/**
 * The demo's tRPC router: a live activity feed (tracked, resumable) and long jobs with a
 * progress stream. Plain tRPC: nothing here knows it is carried over SSE.
 */
import { initTRPC, tracked, TRPCError } from '@trpc/server';
import { EventEmitter, on } from 'node:events';
import { z } from 'zod';

export interface FeedItem {
  id: number;
  at: string;
  text: string;
}

export interface JobProgress {
  jobId: string;
  percent: number;
  done: boolean;
}

const ACTIONS = ['deployed', 'commented on', 'reviewed', 'merged', 'opened', 'closed'];
const PEOPLE = ['Ada', 'Grace', 'Linus', 'Barbara', 'Ken', 'Margaret'];
const THINGS = ['#42', 'the release notes', 'api/v2', 'the login page', 'PR #7', 'the search index'];

/**
 * An in-memory feed with a bounded history, so a reconnecting page resumes from its last id.
 * (The event-log module will offer this ready-made; the demo keeps it visible.)
 */
export function createFeed(opts: { historySize?: number; intervalMs?: number } = {}) {
  const historySize = opts.historySize ?? 500;
  const history: FeedItem[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let nextId = 1;
  const publish = (text: string): FeedItem => {
    const item = { id: nextId++, at: new Date().toISOString(), text };
    history.push(item);
    if (history.length > historySize) history.shift();
    events.emit('item', item);
    return item;
  };
  let n = 0;
  const timer =
    opts.intervalMs === 0
      ? undefined
      : setInterval(() => {
          n++;
          publish(`${PEOPLE[n % PEOPLE.length]} ${ACTIONS[(n * 7) % ACTIONS.length]} ${THINGS[(n * 5) % THINGS.length]}`);
        }, opts.intervalMs ?? 1500);
  timer?.unref();
  return { history, events, publish, stop: () => timer && clearInterval(timer) };
}

export function createDemoRouter(feed = createFeed()) {
  const t = initTRPC.create();
  const jobs = new EventEmitter();
  jobs.setMaxListeners(0);
  const progress = new Map<string, JobProgress>();

  return t.router({
    /** The live feed: replays what the client missed (by `lastEventId`), then goes live. */
    feed: t.procedure
      .input(z.object({ lastEventId: z.string().nullish() }).optional())
      .subscription(async function* ({ input, signal }) {
        // Listen before replaying, so nothing published in between is lost.
        const live = on(feed.events, 'item', signal ? { signal } : {});
        const after = input?.lastEventId ? Number(input.lastEventId) : feed.history.at(-10)?.id ?? 0;
        let last = input?.lastEventId ? after : after - 1;
        for (const item of feed.history) {
          if (item.id > last) {
            last = item.id;
            yield tracked(String(item.id), item);
          }
        }
        for await (const [item] of live) {
          const feedItem = item as FeedItem;
          if (feedItem.id <= last) continue;
          last = feedItem.id;
          yield tracked(String(feedItem.id), feedItem);
        }
      }),
    post: t.procedure.input(z.object({ text: z.string().min(1).max(200) })).mutation(({ input }) => feed.publish(input.text)),
    /** Starts a job that takes `seconds`; its progress is streamed by `job`. */
    startJob: t.procedure.input(z.object({ seconds: z.number().min(1).max(60) })).mutation(({ input }) => {
      const jobId = Math.random().toString(36).slice(2, 8);
      const steps = 50;
      let step = 0;
      const tick = setInterval(() => {
        step++;
        const state = { jobId, percent: Math.round((step / steps) * 100), done: step >= steps };
        progress.set(jobId, state);
        jobs.emit(jobId, state);
        if (state.done) clearInterval(tick);
      }, (input.seconds * 1000) / steps);
      progress.set(jobId, { jobId, percent: 0, done: false });
      return { jobId };
    }),
    /** A job's progress, from where it is now; completes when the job is done. */
    job: t.procedure.input(z.object({ jobId: z.string() })).subscription(async function* ({ input, signal }) {
      const current = progress.get(input.jobId);
      if (!current) throw new TRPCError({ code: 'NOT_FOUND', message: `No job ${input.jobId}` });
      yield current;
      if (current.done) return;
      for await (const [state] of on(jobs, input.jobId, signal ? { signal } : {})) {
        yield state as JobProgress;
        if ((state as JobProgress).done) return;
      }
    }),
  });
}

export type DemoRouter = ReturnType<typeof createDemoRouter>;
