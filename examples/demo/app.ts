/**
 * The demo: one Express server with the four use cases on one page (`/`), and each of them
 * on a page of its own (the examples' own pages, served by this same router). One
 * `createSSEMiddleware` serves the whole router; the feed, the notifications and the jobs
 * share one memory event log.
 */
import { createMemoryEventLog } from 'trpc-sse/server';
import { createFeed, createMemoryFeedStore } from '../activity-feed/feed.js';
import { Jobs } from '../job-progress/jobs.js';
import { SourceCounters } from '../log-streaming/source.js';
import { NotificationStore, Notifier } from '../notifications/store.js';
import { startExampleServer, type ExampleServer } from '../shared/exampleServer.js';
import type { Sessions } from '../shared/sessions.js';
import { createDemoRouter } from './router.js';

export interface DemoOptions {
  /** @default 3000 (0: any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Pace of the feed's made-up activity; 0: none. @default 1500 */
  feedIntervalMs?: number;
  /** Pace of a job's steps. @default 200 */
  stepMs?: number;
  /** Notifications and sign-ins survive a restart when the caller keeps them (as a database would). */
  notifications?: NotificationStore;
  sessions?: Sessions;
}

export interface DemoServer extends ExampleServer {
  notifier: Notifier;
  jobs: Jobs;
  sources: SourceCounters;
}

const LINKS =
  'Each on a page of its own: <a href="/activity-feed">activity feed</a> · <a href="/notifications">notifications</a> · ' +
  '<a href="/job-progress">long job</a> · <a href="/log-streaming">log streaming</a>.';

export async function startDemo(opts: DemoOptions = {}): Promise<DemoServer> {
  const log = createMemoryEventLog({ maxEvents: 1_000, maxAgeMs: 10 * 60_000 });
  const feed = createFeed({ log, store: createMemoryFeedStore(), intervalMs: opts.feedIntervalMs ?? 1_500 });
  const notifier = new Notifier(opts.notifications ?? new NotificationStore(), log);
  const jobs = new Jobs(log);
  const sources = new SourceCounters();
  const stepMs = opts.stepMs ?? 200;
  const page = (path: string, title: string, entry: string, intro: string) => ({
    path,
    title,
    intro,
    entry: new URL(entry, import.meta.url),
  });
  const server = await startExampleServer({
    router: createDemoRouter({ feed, notifier, jobs, sources, stepMs }),
    pages: [
      page(
        '/',
        'trpc-sse demo',
        './client.ts',
        `Four live widgets, one event stream: tRPC subscriptions over server-sent events. ${LINKS}`,
      ),
      page(
        '/activity-feed',
        'Activity feed',
        '../activity-feed/page.ts',
        'Resumes after a dropped connection; after a server restart it says so and reloads.',
      ),
      page(
        '/notifications',
        'Notifications',
        '../notifications/page.ts',
        'Per user: open <a href="?user=grace">?user=grace</a> in another tab and send each other notifications.',
      ),
      page(
        '/job-progress',
        'Progress of a long job',
        '../job-progress/page.ts',
        'The job runs on the server; the page follows it and resumes after a dropped connection.',
      ),
      page(
        '/log-streaming',
        'Log streaming',
        '../log-streaming/page.ts',
        'Thousands of lines a second as bytes; a slow page slows the program instead of filling a queue.',
      ),
    ],
    ...(opts.port === undefined ? {} : { port: opts.port }),
    ...(opts.host === undefined ? {} : { host: opts.host }),
    ...(opts.sessions ? { sessions: opts.sessions } : {}),
    onClose: async () => {
      await feed.stop();
      jobs.stopAll();
      await log.close();
    },
  });
  return Object.assign(server, { notifier, jobs, sources });
}
