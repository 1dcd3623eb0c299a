import { z } from 'zod';

/** Resumable procedures accept the id the client resumes from (both servers merge it into the input). */
export const resumeInput = z.object({ lastEventId: z.string().nullish() }).nullish();
export const streamInput = z.object({ count: z.number().int().min(1).max(10_000_000) });
