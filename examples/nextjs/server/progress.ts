import { tracked, TRPCError } from '@trpc/server';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { publicProcedure, router } from './trpc';

/** One step of the job, as the page receives it. */
export interface ProgressStep {
  step: number;
  of: number;
  label: string;
}

export const PROGRESS_STEPS = 50;

const STAGES = ['reading the export', 'checking rows', 'converting', 'writing the report', 'compressing'];

/** The label of a step: the work is a function of the step's number, so any step can be done again from its number alone. */
function label(step: number): string {
  return `${step}/${PROGRESS_STEPS} ${STAGES[Math.floor(((step - 1) * STAGES.length) / PROGRESS_STEPS)]}`;
}

/**
 * The last step the client saw, from its tracked id. An id this route never wrote (not a
 * step number) is refused rather than guessed at: starting over would repeat steps, skipping
 * ahead would lose them.
 */
function stepsDone(lastEventId: string | null | undefined): number {
  if (lastEventId === null || lastEventId === undefined) return 0;
  const step = Number(lastEventId);
  if (!Number.isSafeInteger(step) || step < 0 || step > PROGRESS_STEPS || String(step) !== lastEventId) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: `Not a step of this job: ${JSON.stringify(lastEventId)}` });
  }
  return step;
}

/**
 * The router behind `/api/stream`: the progress stream a Next.js app would otherwise write by
 * hand as a `ReadableStream` of `data:` lines. Each step is sent as `tracked(step, …)`, so
 * the step's number is the event's id: a client whose connection drops reconnects with the
 * last one it received (`Last-Event-ID`), and the job goes on from the step after it.
 */
export const progressRouter = router({
  progress: publicProcedure
    .input(z.object({ lastEventId: z.string().nullish() }).optional())
    .subscription(async function* ({ input, signal }) {
      // The job's pace, read when the stream starts: `PROGRESS_STEP_MS=50 next start` needs no rebuild.
      const stepMs = Number(process.env['PROGRESS_STEP_MS'] ?? 250);
      for (let step = stepsDone(input?.lastEventId) + 1; step <= PROGRESS_STEPS; step++) {
        // The work of one step; the client leaving aborts it, and the stream ends.
        await sleep(stepMs, undefined, { signal });
        yield tracked(String(step), { step, of: PROGRESS_STEPS, label: label(step) } satisfies ProgressStep);
      }
    }),
});

export type ProgressRouter = typeof progressRouter;
