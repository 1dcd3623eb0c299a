/**
 * The demo's router: the four use cases' routers merged, behind one endpoint. A page that
 * shows all four subscribes to all four over one connection.
 */
import { createFeedRouter } from '../activity-feed/router.js';
import type { Feed } from '../activity-feed/feed.js';
import { createJobsRouter } from '../job-progress/router.js';
import type { Jobs } from '../job-progress/jobs.js';
import { createLogsRouter } from '../log-streaming/router.js';
import type { SourceCounters } from '../log-streaming/source.js';
import { createNotificationsRouter } from '../notifications/router.js';
import type { Notifier } from '../notifications/store.js';
import { sharedRouter } from '../shared/sharedRouter.js';
import { mergeRouters } from '../shared/trpc.js';

export interface DemoParts {
  feed: Feed;
  notifier: Notifier;
  jobs: Jobs;
  sources: SourceCounters;
  stepMs: number;
}

export function createDemoRouter(parts: DemoParts) {
  return mergeRouters(
    sharedRouter,
    createFeedRouter(parts.feed),
    createNotificationsRouter(parts.notifier),
    createJobsRouter(parts.jobs, { stepMs: parts.stepMs }),
    createLogsRouter(parts.sources),
  );
}

export type DemoRouter = ReturnType<typeof createDemoRouter>;
