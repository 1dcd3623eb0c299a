/** The benchmark router on the newest tRPC (`trpc-latest`), for tRPC's stock SSE server. See pinned.ts. */
import { initTRPC, tracked } from 'trpc-latest/server';
import type { Counter } from '../../procedures/counter.js';
import { helloEvents } from '../../procedures/hello.js';
import { streamEvents } from '../../procedures/stream.js';
import type { TickSource } from '../../procedures/tickSource.js';
import { resumeInput, streamInput } from './schemas.js';

export function createLatestRouter(sources: { ticks: TickSource; counter: Counter }) {
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

export type LatestRouter = ReturnType<typeof createLatestRouter>;
