/** tRPC's own SSE server: the standalone adapter of the newest @trpc/server, EventEmitter ticks. */
import { createHTTPServer } from 'trpc-latest/standalone';
import { Counter } from '../procedures/counter.js';
import { EmitterTicks } from '../procedures/emitterTicks.js';
import { listen } from './listen.js';
import { createLatestRouter } from './routers/latest.js';
import type { BenchServer, ServerOptions } from './types.js';

export async function startServer(opts: ServerOptions): Promise<BenchServer> {
  const ticks = new EmitterTicks();
  const counter = new Counter(opts.counter);
  const server = createHTTPServer({ router: createLatestRouter({ ticks, counter }), createContext: () => ({}) });
  const port = await listen(server, opts.port);
  return {
    port,
    subscribers: () => ticks.active + counter.active,
    publishTick: (event) => ticks.publish(event),
    counterStats: () => counter.stats(),
  };
}
