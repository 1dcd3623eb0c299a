/** tRPC's ws adapter over TLS: `applyWSSHandler` on a `ws` server attached to an HTTPS server (wss://). */
import { createServer } from 'node:https';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';
import { Counter } from '../procedures/counter.js';
import { EmitterTicks } from '../procedures/emitterTicks.js';
import { listen } from './listen.js';
import { createPinnedRouter } from './routers/pinned.js';
import { selfSignedCertificate } from '../../test/helpers/tls.js';
import type { BenchServer, ServerOptions } from './types.js';

export async function startServer(opts: ServerOptions): Promise<BenchServer> {
  const ticks = new EmitterTicks();
  const counter = new Counter(opts.counter);
  const https = createServer(selfSignedCertificate(), (_req, res) => {
    res.statusCode = 426;
    res.end();
  });
  const wss = new WebSocketServer({ server: https });
  applyWSSHandler({ wss, router: createPinnedRouter({ ticks, counter }), createContext: () => ({}) });
  const port = await listen(https, opts.port);
  return {
    port,
    subscribers: () => ticks.active + counter.active,
    publishTick: (event) => ticks.publish(event),
    counterStats: () => counter.stats(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        https.close(() => resolve());
        https.closeAllConnections();
      }),
  };
}
