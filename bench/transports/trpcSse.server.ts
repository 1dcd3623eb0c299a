/** trpc-sse's server: `createSSEHandler` on node:http, the memory event log as the fan-out source. */
import { createServer } from 'node:http';
import { createSSEHandler } from 'trpc-sse/node';
import { Counter } from '../procedures/counter.js';
import { LogTicks } from '../procedures/logTicks.js';
import { listen } from './listen.js';
import { observeEverything } from './observeEverything.js';
import { createPinnedRouter } from './routers/pinned.js';
import type { BenchServer, ServerOptions } from './types.js';

export async function startServer(opts: ServerOptions): Promise<BenchServer> {
  const ticks = new LogTicks();
  const counter = new Counter(opts.counter);
  const handler = createSSEHandler({
    router: createPinnedRouter({ ticks, counter }),
    basePath: '/trpc',
    maxSubscriptionsPerConnection: opts.maxSubscriptionsPerConnection,
  });
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- the handler's promise never rejects: it answers a failed request instead
  const port = await listen(createServer(handler), opts.port);
  const observed = process.env['BENCH_OBSERVE'] === '1' ? observeEverything(handler.core) : () => 0;
  return {
    port,
    subscribers: () => ticks.active + counter.active,
    publishTick: (event) => ticks.publish(event),
    counterStats: () => counter.stats(),
    observedMessages: observed,
  };
}
