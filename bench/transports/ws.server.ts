/** tRPC's ws adapter (`applyWSSHandler`) on a `ws` server, EventEmitter ticks. */
import { createServer } from 'node:http';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';
import { Counter } from '../procedures/counter.js';
import { EmitterTicks } from '../procedures/emitterTicks.js';
import { listen } from './listen.js';
import { createPinnedRouter } from './routers/pinned.js';
import type { BenchServer, ServerOptions } from './types.js';

export async function startServer(opts: ServerOptions): Promise<BenchServer> {
  const ticks = new EmitterTicks();
  const counter = new Counter(opts.counter);
  const http = createServer((_req, res) => {
    res.statusCode = 426;
    res.end();
  });
  const wss = new WebSocketServer({ server: http });
  applyWSSHandler({ wss, router: createPinnedRouter({ ticks, counter }), createContext: () => ({}) });
  const port = await listen(http, opts.port);
  return {
    port,
    subscribers: () => ticks.active + counter.active,
    publishTick: (event) => ticks.publish(event),
    counterStats: () => counter.stats(),
  };
}
