/**
 * trpc-sse's server over HTTP/2 with TLS: `createSSEHandler` on `node:http2`
 * `createSecureServer` with `allowHTTP1: false`, so every client speaks h2. Same router and
 * fan-out source as over HTTP/1.1 (trpcSse.server.ts).
 */
import type { Server } from 'node:http';
import { createSecureServer, type ServerHttp2Session } from 'node:http2';
import { createSSEHandler } from 'trpc-sse/node';
import { Counter } from '../procedures/counter.js';
import { LogTicks } from '../procedures/logTicks.js';
import { listen } from './listen.js';
import { createPinnedRouter } from './routers/pinned.js';
import { selfSignedCertificate } from '../../test/helpers/tls.js';
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
  const server = createSecureServer({ ...selfSignedCertificate(), allowHTTP1: false }, handler);
  // listen() only calls net.Server's listen/address, which an Http2SecureServer has too.
  const port = await listen(server as unknown as Server, opts.port);
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  return {
    port,
    subscribers: () => ticks.active + counter.active,
    publishTick: (event) => ticks.publish(event),
    counterStats: () => counter.stats(),
    close: async () => {
      handler.core.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) session.destroy();
      });
    },
  };
}
