/**
 * The server every example runs on: Express with the example's pages and one
 * `createSSEMiddleware` at `/trpc` for the whole router (subscriptions over SSE, queries and
 * mutations through tRPC's own handler).
 */
import express, { type Express } from 'express';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AnyTRPCRouter } from '@trpc/server';
import { createSSEMiddleware, type SSEMiddleware } from 'trpc-sse/express';
import type { SSECore } from 'trpc-sse/server';
import { bundlePageScript, FAVICON_SVG, pageHtml, type PageOptions } from './page.js';
import { ServerStats } from './serverStats.js';
import { Sessions } from './sessions.js';
import type { Context } from './trpc.js';

export interface ExampleServerOptions {
  router: AnyTRPCRouter;
  pages: PageOptions[];
  /** @default 3000 (0: any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Sign-ins survive a restart when the caller keeps them (as a database would). */
  sessions?: Sessions;
  /** Further routes (before the tRPC endpoint). */
  routes?: (app: Express, trpc: SSEMiddleware) => void;
  /** Runs after the HTTP server has closed: stop timers, close logs. */
  onClose?: () => Promise<void> | void;
}

export interface ExampleServer {
  /** The first page's address, e.g. `http://127.0.0.1:3000/`. */
  url: string;
  port: number;
  server: Server;
  core: SSECore;
  stats: ServerStats;
  sessions: Sessions;
  close(): Promise<void>;
}

export async function startExampleServer(opts: ExampleServerOptions): Promise<ExampleServer> {
  const sessions = opts.sessions ?? new Sessions();
  const stats = new ServerStats();
  const trpc = createSSEMiddleware({
    router: opts.router,
    createContext: ({ req }): Context => {
      const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? null;
      return { session: sessions.fromAuthorization(req.headers.authorization), token, sessions, stats };
    },
  });
  stats.attach(trpc.core);

  const app = express();
  const scripts = await Promise.all(opts.pages.map((page) => bundlePageScript(page.entry)));
  opts.pages.forEach((page, i) => {
    const scriptPath = `/${i}.js`;
    const html = pageHtml(page, scriptPath);
    app.get(page.path, (_req, res) => res.type('html').send(html));
    app.get(scriptPath, (_req, res) => res.type('text/javascript').send(scripts[i]));
  });
  // Browsers ask for /favicon.ico whatever the page links; answer both.
  app.get(['/favicon.svg', '/favicon.ico'], (_req, res) => res.type('image/svg+xml').send(FAVICON_SVG));
  // Lets a page show resume: every stream ends at once, and every client comes back.
  app.post('/drop-connections', (_req, res) => {
    trpc.core.closeAllStreams();
    res.status(204).end();
  });
  // A deploy's drain: each client moves to a new connection (running `createContext` again).
  app.post('/reconnect-all', (_req, res) => {
    trpc.core.drain({ withinMs: 0 });
    res.status(204).end();
  });
  opts.routes?.(app, trpc);
  app.use('/trpc', trpc);

  const server = createServer(app);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 3000, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}${opts.pages[0]?.path ?? '/'}`,
    port,
    server,
    core: trpc.core,
    stats,
    sessions,
    close: async () => {
      trpc.core.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await opts.onClose?.();
    },
  };
}
