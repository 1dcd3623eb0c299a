import { z } from 'zod';
import { publicProcedure, router } from '../shared/trpc.js';
import { tailProgram, type SourceCounters } from './source.js';

export function createLogsRouter(counters: SourceCounters) {
  return router({
    logs: router({
      /** A program's output from after `lastEventId` (a line number), `rate` lines per second (0: unbounded). */
      tail: publicProcedure
        .input(
          z.object({ rate: z.number().int().min(0).max(1_000_000), lastEventId: z.string().regex(/^\d+$/).nullish() }),
        )
        .subscription(({ input, signal }) =>
          tailProgram({ afterLine: Number(input.lastEventId ?? 0), rate: input.rate, signal, counters }),
        ),
    }),
  });
}

export type LogsRouter = ReturnType<typeof createLogsRouter>;
