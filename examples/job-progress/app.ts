/** Long jobs with a progress stream, as an app of its own. */
import { createMemoryEventLog } from 'trpc-sse/server';
import { startExampleServer, type ExampleServer } from '../shared/exampleServer.js';
import { sharedRouter } from '../shared/sharedRouter.js';
import { mergeRouters } from '../shared/trpc.js';
import { Jobs } from './jobs.js';
import { createJobsRouter } from './router.js';

const appRouter = (jobs: Jobs, stepMs: number) => mergeRouters(sharedRouter, createJobsRouter(jobs, { stepMs }));
export type JobProgressAppRouter = ReturnType<typeof appRouter>;

export async function startJobProgressApp(
  opts: { port?: number; host?: string; stepMs?: number } = {},
): Promise<ExampleServer & { jobs: Jobs }> {
  const log = createMemoryEventLog();
  const jobs = new Jobs(log);
  const server = await startExampleServer({
    router: appRouter(jobs, opts.stepMs ?? 200),
    pages: [
      {
        path: '/',
        title: 'Progress of a long job',
        intro:
          'The job runs on the server; the page follows it, resumes after a dropped connection, and shows how it ended when opened late.',
        entry: new URL('./page.ts', import.meta.url),
      },
    ],
    ...(opts.port === undefined ? {} : { port: opts.port }),
    ...(opts.host === undefined ? {} : { host: opts.host }),
    onClose: async () => {
      jobs.stopAll();
      await log.close();
    },
  });
  return Object.assign(server, { jobs });
}
