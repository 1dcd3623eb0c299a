/**
 * The benchmark router on the @trpc/server version trpc-sse is built against (the pinned
 * devDependency). Served by trpc-sse's handler and by tRPC's ws adapter. The stock SSE server
 * gets the same procedures on the newest tRPC in `latest.ts` (a router cannot be shared across
 * two @trpc/server copies: `tracked()` marks values with a module-local symbol).
 */
import { initTRPC, tracked } from '@trpc/server';
import type { Counter } from '../../procedures/counter.js';
import { helloEvents } from '../../procedures/hello.js';
import { streamEvents } from '../../procedures/stream.js';
import type { TickSource } from '../../procedures/tickSource.js';
import { resumeInput, streamInput } from './schemas.js';

export function createPinnedRouter(sources: { ticks: TickSource; counter: Counter }) {
  const t = initTRPC.create();
  return t.router({
    stream: t.procedure.input(streamInput).subscription(({ input }) => streamEvents(input.count)),
    onTick: t.procedure
      .input(resumeInput)
      .subscription(({ input, signal }) => sources.ticks.subscribe(signal, input?.lastEventId)),
    hello: t.procedure.subscription(({ signal }) => helloEvents(signal)),
    counter: t.procedure
      .input(resumeInput)
      .subscription(({ input, signal }) => sources.counter.subscribe(signal, input?.lastEventId, tracked)),
  });
}

export type PinnedRouter = ReturnType<typeof createPinnedRouter>;
