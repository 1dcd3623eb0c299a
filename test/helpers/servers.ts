import express from 'express';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AnyTRPCRouter } from '@trpc/server';
import { createSSEMiddleware } from '../../src/adapters/express.js';
import { createSSEHandler, type CreateSSEHandlerOptions } from '../../src/adapters/node.js';
import type { SSECore } from '../../src/server/core.js';
import { testContext } from './router.js';

export interface RunningServer {
  /** The tRPC endpoint, e.g. `http://127.0.0.1:1234/trpc`. */
  url: string;
  port: number;
  server: Server;
  core: SSECore;
  close(): Promise<void>;
}

/** Listens on a loopback port chosen by the OS. */
export async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Closes a server and every connection it still holds (event streams never end on their own). */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

type ExtraOptions<TRouter extends AnyTRPCRouter> = Partial<Omit<CreateSSEHandlerOptions<TRouter>, 'router'>>;

/** Our node:http handler at `/trpc`. */
export async function startNodeServer<TRouter extends AnyTRPCRouter>(
  router: TRouter,
  extra: ExtraOptions<TRouter> = {},
  port = 0,
): Promise<RunningServer> {
  const handler = createSSEHandler({
    router,
    basePath: '/trpc',
    createContext: ({ req, info }) =>
      testContext(
        { get: (n) => (req.headers[n] as string | undefined) ?? null },
        info.connectionParams as Record<string, string> | null,
      ) as never,
    ...extra,
  });
  const server = createServer((req, res) => void handler(req, res));
  const actualPort = await listen(server, port);
  return {
    url: `http://127.0.0.1:${actualPort}/trpc`,
    port: actualPort,
    server,
    core: handler.core,
    close: async () => {
      handler.core.close();
      await closeServer(server);
    },
  };
}

/** Our Express middleware mounted at `/trpc` (Express 5 unless `expressModule` says otherwise). */
export async function startExpressServer<TRouter extends AnyTRPCRouter>(
  router: TRouter,
  extra: ExtraOptions<TRouter> = {},
  expressModule: typeof express = express,
): Promise<RunningServer> {
  const app = expressModule();
  const middleware = createSSEMiddleware({
    router,
    createContext: ({ req, info }) =>
      testContext({ get: (n) => req.get(n) ?? null }, info.connectionParams as Record<string, string> | null) as never,
    ...(extra as object),
  });
  app.use('/trpc', middleware);
  const server = createServer(app);
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/trpc`,
    port,
    server,
    core: middleware.core,
    close: async () => {
      middleware.core.close();
      await closeServer(server);
    },
  };
}
