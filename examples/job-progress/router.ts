import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { publicProcedure, router } from '../shared/trpc.js';
import { topicOf, type JobEvent, type Jobs } from './jobs.js';

const jobId = z.string().regex(/^[0-9a-f]{8}$/);

export function createJobsRouter(jobs: Jobs, opts: { stepMs: number }) {
  const find = (id: string) => {
    const job = jobs.get(id);
    if (!job) throw new TRPCError({ code: 'NOT_FOUND', message: `No job ${id}` });
    return job;
  };
  return router({
    jobs: router({
      start: publicProcedure
        .input(z.object({ steps: z.number().int().min(1).max(200) }))
        .mutation(({ input }) => jobs.start(input.steps, opts.stepMs)),
      /** The job as it is now: a page that opens late starts here, and follows from `lastEventId`. */
      get: publicProcedure.input(z.object({ jobId })).query(({ input }) => find(input.jobId)),
      cancel: publicProcedure.input(z.object({ jobId })).mutation(({ input }) => jobs.cancel(input.jobId)),
      /** The job's events after `lastEventId` (the snapshot's, then the client's last on every reconnect). */
      onProgress: publicProcedure
        .input(z.object({ jobId, lastEventId: z.string().nullish() }))
        .subscription(({ input, signal }) => {
          find(input.jobId);
          return jobs.log.subscribe<JobEvent>(topicOf(input.jobId), { lastEventId: input.lastEventId, signal });
        }),
    }),
  });
}

export type JobsRouter = ReturnType<typeof createJobsRouter>;
