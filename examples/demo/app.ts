/**
 * The demo app: Express serving the page, its bundled script, and the whole tRPC router
 * through one `createSSEMiddleware`.
 */
import { build } from 'esbuild';
import express from 'express';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createSSEMiddleware } from 'trpc-sse/express';
import { createDemoRouter, createFeed } from './router.js';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

/** Bundles the page script for the browser (it imports trpc-sse/client and @trpc/client). */
export async function bundleClient(): Promise<string> {
  const result = await build({
    entryPoints: [here('./client.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    minify: true,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

export interface DemoServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startDemo(opts: { port?: number; host?: string; feedIntervalMs?: number } = {}): Promise<DemoServer> {
  const feed = createFeed(opts.feedIntervalMs === undefined ? {} : { intervalMs: opts.feedIntervalMs });
  const trpc = createSSEMiddleware({ router: createDemoRouter(feed) });
  const script = await bundleClient();
  const app = express();
  app.get('/', (_req, res) => res.sendFile(here('./index.html')));
  app.get('/client.js', (_req, res) => res.type('text/javascript').send(script));
  // Lets the page show resume: every stream ends at once, and every client comes back.
  app.post('/drop-connections', (_req, res) => {
    trpc.core.closeAllStreams();
    res.status(204).end();
  });
  app.use('/trpc', trpc);
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(opts.port ?? 3000, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}/`,
    server,
    close: async () => {
      feed.stop();
      trpc.core.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
