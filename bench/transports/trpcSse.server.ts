/** trpc-sse's server: `createSSEHandler` on node:http, the memory event log as the fan-out source. */
import { createServer } from 'node:http';
import { createSSEHandler } from 'trpc-sse/node';
import { Counter } from '../procedures/counter.js';
import { LogTicks } from '../procedures/logTicks.js';
import { listen } from './listen.js';
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
  const port = await listen(createServer(handler), opts.port);
  return {
    port,
    subscribers: () => ticks.active + counter.active,
    publishTick: (event) => ticks.publish(event),
    counterStats: () => counter.stats(),
  };
}
