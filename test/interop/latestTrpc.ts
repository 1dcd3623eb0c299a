/**
 * Helpers for the interop tests: the two stock tRPC releases side by side (the pinned
 * 11.19.0 our library imports, and the newest 11.25.2 from `test/fixtures/trpc-latest`),
 * stock tRPC servers on loopback port 0, and small raw-wire readers.
 *
 * The kits are typed with the pinned release's types; the newest release's functions are
 * cast to them (their runtime shapes are the same; only the type identities differ).
 */
import * as pinnedClient from '@trpc/client';
import * as pinnedServer from '@trpc/server';
import { fetchRequestHandler as pinnedFetchRequestHandler } from '@trpc/server/adapters/fetch';
import { createHTTPHandler as pinnedCreateHTTPHandler } from '@trpc/server/adapters/standalone';
import type { EventSourceFetchInit, EventSourceInit, FetchLikeResponse } from 'eventsource';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import * as latestClient from 'trpc-latest/client';
import { fetchRequestHandler as latestFetchRequestHandler } from 'trpc-latest/fetch';
import * as latestServer from 'trpc-latest/server';
import { createHTTPHandler as latestCreateHTTPHandler } from 'trpc-latest/standalone';
import superjson from 'superjson';
import { z } from 'zod';
import type { FetchLike } from '../../src/client/index.js';
import { Probe } from '../helpers/router.js';
import { closeServer, listen } from '../helpers/servers.js';

function packageVersion(relative: string): string {
  return (JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { version: string }).version;
}

// ---------------------------------------------------------------------------------------------
// Stock clients

/** One stock `@trpc/client` release. */
export interface ClientKit {
  name: string;
  /** The version actually installed (read from its package.json). */
  version: string;
  createTRPCUntypedClient: typeof pinnedClient.createTRPCUntypedClient;
  httpSubscriptionLink: typeof pinnedClient.httpSubscriptionLink;
  isTRPCClientError: (value: unknown) => boolean;
}

export const pinnedClientKit: ClientKit = {
  name: '@trpc/client (pinned)',
  version: packageVersion('../../node_modules/@trpc/client/package.json'),
  createTRPCUntypedClient: pinnedClient.createTRPCUntypedClient,
  httpSubscriptionLink: pinnedClient.httpSubscriptionLink,
  isTRPCClientError: (value) => pinnedClient.isTRPCClientError(value),
};

export const latestClientKit: ClientKit = {
  name: 'trpc-latest/client (newest)',
  version: packageVersion('../fixtures/trpc-latest/node_modules/@trpc/client/package.json'),
  createTRPCUntypedClient: latestClient.createTRPCUntypedClient as unknown as ClientKit['createTRPCUntypedClient'],
  httpSubscriptionLink: latestClient.httpSubscriptionLink as unknown as ClientKit['httpSubscriptionLink'],
  isTRPCClientError: (value) => latestClient.isTRPCClientError(value),
};

export const clientKits: ClientKit[] = [pinnedClientKit, latestClientKit];

/** Whether the two kits really are different code (not the same module loaded twice). */
export function kitsAreDistinct(): boolean {
  return (
    (latestClient.httpSubscriptionLink as unknown) !== pinnedClient.httpSubscriptionLink &&
    (latestServer.initTRPC as unknown) !== pinnedServer.initTRPC
  );
}

// ---------------------------------------------------------------------------------------------
// Stock servers

/** One stock `@trpc/server` release: what a test router and the stock adapters need. */
export interface ServerKit {
  name: string;
  version: string;
  initTRPC: typeof pinnedServer.initTRPC;
  tracked: typeof pinnedServer.tracked;
  TRPCError: typeof pinnedServer.TRPCError;
  createHTTPHandler: typeof pinnedCreateHTTPHandler;
  fetchRequestHandler: typeof pinnedFetchRequestHandler;
}

export const pinnedServerKit: ServerKit = {
  name: '@trpc/server (pinned)',
  version: packageVersion('../../node_modules/@trpc/server/package.json'),
  initTRPC: pinnedServer.initTRPC,
  tracked: pinnedServer.tracked,
  TRPCError: pinnedServer.TRPCError,
  createHTTPHandler: pinnedCreateHTTPHandler,
  fetchRequestHandler: pinnedFetchRequestHandler,
};

export const latestServerKit: ServerKit = {
  name: 'trpc-latest/server (newest)',
  version: packageVersion('../fixtures/trpc-latest/node_modules/@trpc/server/package.json'),
  initTRPC: latestServer.initTRPC as unknown as ServerKit['initTRPC'],
  tracked: latestServer.tracked as unknown as ServerKit['tracked'],
  TRPCError: latestServer.TRPCError,
  createHTTPHandler: latestCreateHTTPHandler as unknown as ServerKit['createHTTPHandler'],
  fetchRequestHandler: latestFetchRequestHandler as unknown as ServerKit['fetchRequestHandler'],
};

export const serverKits: ServerKit[] = [pinnedServerKit, latestServerKit];

export interface StockContext {
  user: string | null;
}

/** Ping settings of the stock routers: stock tRPC only pings when asked to. */
const STOCK_SSE_CONFIG = {
  ping: { enabled: true, intervalMs: 200 },
  client: { reconnectAfterInactivityMs: 5_000 },
} as const;

/**
 * A router built with one stock release's own `initTRPC` (a stock adapter must serve a router
 * of its own release). `journal` is a resumable log: it replays what follows `lastEventId`,
 * then waits for `append`s, so a resumed client can be checked for "every event exactly once".
 */
export function createStockRouter(
  kit: ServerKit,
  opts: {
    /** Use superjson as the router's transformer. */
    transformer?: boolean;
    /** The router's `sse` config. @default {@link STOCK_SSE_CONFIG} */
    sse?: { ping?: { enabled: boolean; intervalMs?: number }; client?: { reconnectAfterInactivityMs?: number } };
  } = {},
) {
  const sse = opts.sse ?? STOCK_SSE_CONFIG;
  // Typed as the transformer-less variant either way; only the runtime differs (clients here are untyped).
  const t = opts.transformer
    ? (kit.initTRPC.context<StockContext>().create({ sse, transformer: superjson }) as unknown as ReturnType<
        typeof plainT
      >)
    : plainT();
  function plainT() {
    return kit.initTRPC.context<StockContext>().create({ sse });
  }
  const probe = new Probe();
  const feed = new EventEmitter();
  feed.setMaxListeners(0);
  const log: Array<{ id: number; text: string }> = [];
  const append = (text: string): number => {
    const id = log.length + 1;
    log.push({ id, text });
    feed.emit('append');
    return id;
  };

  const router = t.router({
    hello: t.procedure.query(() => 'hello'),
    /** A value only a transformer carries intact. */
    when: t.procedure.subscription(async function* () {
      yield kit.tracked('1', { at: new Date(0), big: 2n ** 70n });
    }),
    counter: t.procedure
      .input(z.object({ count: z.number().int().max(1000), lastEventId: z.string().nullish() }))
      .subscription(async function* ({ input }) {
        probe.start(input);
        try {
          const from = input.lastEventId ? Number(input.lastEventId) + 1 : 0;
          for (let i = from; i < input.count; i++) yield kit.tracked(String(i), { n: i });
        } finally {
          probe.finish();
        }
      }),
    plain: t.procedure.input(z.number().int().max(1000)).subscription(async function* ({ input }) {
      for (let i = 0; i < input; i++) yield i;
    }),
    failing: t.procedure.input(z.object({ after: z.number().int().max(100) })).subscription(async function* ({
      input,
    }) {
      for (let i = 0; i < input.after; i++) yield i;
      throw new kit.TRPCError({ code: 'FORBIDDEN', message: 'failed with FORBIDDEN' });
    }),
    /** Protected by `createContext` itself (see {@link stockCreateContext}). */
    secret: t.procedure.subscription(async function* ({ ctx }) {
      yield { user: ctx.user };
    }),
    journal: t.procedure
      .input(z.object({ lastEventId: z.string().nullish() }).optional())
      .subscription(async function* ({ input, signal }) {
        probe.start(input);
        try {
          let cursor = input?.lastEventId ? Number(input.lastEventId) : 0;
          // One pass per append at most; bounded so a broken test cannot spin.
          for (let pass = 0; pass < 10_000 && !signal?.aborted; pass++) {
            while (cursor < log.length) {
              const item = log[cursor++]!;
              yield kit.tracked(String(item.id), item);
            }
            await new Promise<void>((resolve) => {
              const wake = (): void => {
                feed.off('append', wake);
                signal?.removeEventListener('abort', wake);
                resolve();
              };
              feed.on('append', wake);
              signal?.addEventListener('abort', wake, { once: true });
            });
          }
        } finally {
          probe.finish();
        }
      }),
  });
  return { router, probe, log, append, t };
}

export type StockRouter = ReturnType<typeof createStockRouter>['router'];

/**
 * The stock servers' `createContext`: a user from `Authorization: Bearer <user>` or the
 * `user` connection param; a call to `secret` without one fails with UNAUTHORIZED.
 */
function stockCreateContext(
  kit: ServerKit,
  authorization: string | null,
  info: { connectionParams: Record<string, string> | null; calls: ReadonlyArray<{ path: string }> },
): StockContext {
  const user = authorization?.startsWith('Bearer ')
    ? authorization.slice(7)
    : (info.connectionParams?.['user'] ?? null);
  if (!user && info.calls.some((call) => call.path === 'secret')) {
    throw new kit.TRPCError({ code: 'UNAUTHORIZED', message: 'Sign in first' });
  }
  return { user };
}

export interface StockServer {
  /** The tRPC endpoint, e.g. `http://127.0.0.1:1234/trpc`. */
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** tRPC's standalone adapter (`createHTTPServer` is `http.createServer(createHTTPHandler(opts))`). */
export async function startStockStandalone(kit: ServerKit, router: StockRouter): Promise<StockServer> {
  const handler = kit.createHTTPHandler({
    router,
    basePath: '/trpc/',
    createContext: ({ req, info }) =>
      stockCreateContext(kit, req.headers.authorization ?? null, {
        connectionParams: info.connectionParams as Record<string, string> | null,
        calls: info.calls,
      }),
  });
  const server = createServer(handler);
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}/trpc`, server, close: () => closeServer(server) };
}

/** Largest request body the fetch bridge reads. */
const MAX_BRIDGE_BODY = 1024 * 1024;

/** The request body as text (tRPC bodies are JSON). */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BRIDGE_BODY) throw new Error('request body too large for the test bridge');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Writes a web `Response` to a Node response, stopping when the client goes away. */
async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.flushHeaders();
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const cancel = (): void => void reader.cancel().catch(() => undefined);
  res.once('close', cancel);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || res.destroyed) break;
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const go = (): void => {
            res.off('drain', go);
            res.off('close', go);
            resolve();
          };
          res.on('drain', go);
          res.on('close', go);
        });
      }
    }
  } catch {
    // The client left or the stream broke: nothing more to send.
  } finally {
    res.off('close', cancel);
    if (!res.writableEnded) res.end();
  }
}

/** tRPC's `fetchRequestHandler`, served by `node:http` through a tiny Request/Response bridge. */
export async function startStockFetch(kit: ServerKit, router: StockRouter): Promise<StockServer> {
  const server = createServer((req, res) => {
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    void (async () => {
      try {
        const headers = new Headers();
        for (const [key, value] of Object.entries(req.headers)) {
          if (typeof value === 'string') headers.set(key, value);
          else if (Array.isArray(value)) for (const v of value) headers.append(key, v);
        }
        const body = await readBody(req);
        const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`, {
          method: req.method ?? 'GET',
          headers,
          signal: abort.signal,
          ...(body ? { body } : {}),
        });
        const response = await kit.fetchRequestHandler({
          endpoint: '/trpc',
          req: request,
          router,
          createContext: ({ req: r, info }) =>
            stockCreateContext(kit, r.headers.get('authorization'), {
              connectionParams: info.connectionParams as Record<string, string> | null,
              calls: info.calls,
            }),
        });
        await writeResponse(response, res);
      } catch (cause) {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(cause));
      }
    })();
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}/trpc`, server, close: () => closeServer(server) };
}

// ---------------------------------------------------------------------------------------------
// Our client's requests

/** One request our client made, and the status it got (once the response arrived). */
export interface WireRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  status?: number;
}

/** A `fetch` for `createSSEClient` that records every request in `requests`. */
export function recordingFetch(requests: WireRequest[]): FetchLike {
  return async (url, init) => {
    const request: WireRequest = { url, method: init.method, headers: { ...init.headers } };
    requests.push(request);
    const response = await fetch(url, init);
    request.status = response.status;
    return response;
  };
}

// ---------------------------------------------------------------------------------------------
// EventSource plumbing

/** One request an `eventsource` EventSource made. */
export interface RecordedRequest {
  url: string;
  headers: Record<string, string>;
}

/**
 * `eventSourceOptions` for the `eventsource` package: adds `headers` to every request, records
 * each request (to see `Last-Event-ID` on reconnects), and prepends `retry: <retryMs>` to each
 * response so the EventSource's own reconnect (3 s by default) takes a few ms in tests. The
 * prefix is what a server sending `retry:` would produce; nothing else in the stream changes.
 */
export function eventSourceInit(
  opts: { headers?: Record<string, string>; retryMs?: number; requests?: RecordedRequest[] } = {},
): EventSourceInit {
  const retryMs = opts.retryMs ?? 20;
  return {
    fetch: async (url: string | URL, init: EventSourceFetchInit): Promise<FetchLikeResponse> => {
      const headers = { ...init.headers, ...opts.headers };
      opts.requests?.push({ url: String(url), headers });
      const response = await fetch(url, { ...(init as RequestInit), headers });
      const prefix = new TextEncoder().encode(`retry: ${retryMs}\n\n`);
      const reader = response.body?.getReader();
      const body = reader
        ? new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(prefix);
            },
            async pull(controller) {
              try {
                const { done, value } = await reader.read();
                if (done) controller.close();
                else controller.enqueue(value);
              } catch (cause) {
                controller.error(cause);
              }
            },
            cancel(reason) {
              return reader.cancel(reason);
            },
          })
        : null;
      return {
        body,
        url: response.url,
        status: response.status,
        redirected: response.redirected,
        headers: response.headers,
      };
    },
  };
}

/** The `Last-Event-ID` header of a recorded request, whatever its case. */
export function lastEventIdOf(request: RecordedRequest): string | undefined {
  const key = Object.keys(request.headers).find((k) => k.toLowerCase() === 'last-event-id');
  return key === undefined ? undefined : request.headers[key];
}

/**
 * GETs `url` as an event stream and parses the whole body (the stream must end on its own;
 * `timeoutMs` bounds the wait). Returns the status, content type and the events, in order.
 */
export async function readWholeStream(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 5_000,
): Promise<{ status: number; contentType: string | null; events: EventSourceMessage[] }> {
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  parser.feed(await response.text());
  return { status: response.status, contentType: response.headers.get('content-type'), events };
}

/** `promise`, or a rejection naming `what` after `timeoutMs` (so a missing event fails fast). */
export function within<T>(promise: Promise<T>, what: string, timeoutMs = 5_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
