/**
 * Every server adapter behind one interface, so one contract suite runs against all of them:
 * node:http, node:http2 (h2c and TLS), Express 4 and 5, and the fetch handler (called with a
 * `Request`, as a fetch runtime would, no socket involved).
 */
import express5 from 'express';
import express4 from 'express4';
import { createServer, type Server } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { AnyTRPCRouter } from '@trpc/server';
import { createSSEMiddleware } from '../../src/adapters/express.js';
import { createSSEFetchHandler } from '../../src/adapters/fetch.js';
import { createSSEHandler } from '../../src/adapters/node.js';
import { createSSEDecoder, type SSEMessage } from '../../src/codec/decoder.js';
import type { SSECore } from '../../src/server/core.js';
import type { SSEServerOptions } from '../../src/server/options.js';
import { testContext } from './router.js';
import { closeServer, listen } from './servers.js';
import { selfSignedCertificate } from './tls.js';

/** A response read as events; `next()` resolves `null` at the end of the body. */
export interface RawStream {
  status: number;
  headers: Record<string, string>;
  next(): Promise<SSEMessage | null>;
  /** The whole remaining body as text (for JSON responses). */
  text(): Promise<string>;
  /** Client goes away: closes the connection / cancels the body. */
  cancel(): void;
}

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface RunningAdapter {
  core: SSECore;
  /** The TCP port, for adapters that listen on one. */
  port?: number;
  /** `path` includes the query, relative to the endpoint: `counter?input=…`. */
  request(path: string, init?: RequestInit): Promise<RawStream>;
  close(): Promise<void>;
}

export interface AdapterUnderTest {
  name: string;
  http2: boolean;
  start(router: AnyTRPCRouter, extra?: Partial<SSEServerOptions<AnyTRPCRouter, unknown>>): Promise<RunningAdapter>;
}

/** Turns a stream of chunks into awaitable events. */
function eventQueue(): {
  push(chunk: Uint8Array | string): void;
  end(error?: unknown): void;
  next: () => Promise<SSEMessage | null>;
  text: () => Promise<string>;
} {
  const events: SSEMessage[] = [];
  let raw = '';
  const textDecoder = new TextDecoder();
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const decoder = createSSEDecoder({ onEvent: (m) => events.push(m) });
  const signal = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    push(chunk) {
      raw += typeof chunk === 'string' ? chunk : textDecoder.decode(chunk, { stream: true });
      decoder.push(chunk);
      signal();
    },
    end(error) {
      ended = true;
      failure = error;
      signal();
    },
    async next() {
      for (;;) {
        const event = events.shift();
        if (event) return event;
        if (ended) {
          if (failure) throw failure instanceof Error ? failure : new Error('the stream failed', { cause: failure });
          return null;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async text() {
      while (!ended) await new Promise<void>((resolve) => (wake = resolve));
      return raw;
    },
  };
}

function contextFromHeaders(get: (name: string) => string | null, params: unknown) {
  return testContext({ get }, params as Record<string, string> | null) as never;
}

async function fetchStream(url: string, init: RequestInit): Promise<RawStream> {
  const controller = new AbortController();
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: init.headers ?? {},
    ...(init.body === undefined ? {} : { body: init.body }),
    signal: controller.signal,
  });
  return streamFromResponse(response, () => controller.abort());
}

function streamFromResponse(response: Response, cancel: () => void): RawStream {
  const queue = eventQueue();
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => (headers[key] = value));
  const reader = response.body?.getReader();
  void (async () => {
    try {
      for (;;) {
        const chunk = await reader!.read();
        if (chunk.done) break;
        queue.push(chunk.value);
      }
      queue.end();
    } catch (error) {
      queue.end(error);
    }
  })();
  return {
    status: response.status,
    headers,
    next: queue.next,
    text: queue.text,
    cancel: () => {
      cancel();
      void reader?.cancel().catch(() => undefined);
    },
  };
}

/** Our Node handler at `/trpc`, with the test context. */
function testNodeHandler(router: AnyTRPCRouter, extra: Partial<SSEServerOptions<AnyTRPCRouter, unknown>>) {
  return createSSEHandler({
    router,
    basePath: '/trpc',
    createContext: ({ req, info }) =>
      contextFromHeaders((n) => (req.headers[n] as string | undefined) ?? null, info.connectionParams),
    ...extra,
  });
}

function nodeAdapter(name: string, make: (handler: ReturnType<typeof createSSEHandler>) => Server): AdapterUnderTest {
  return {
    name,
    http2: false,
    async start(router, extra = {}) {
      const handler = testNodeHandler(router, extra);
      const server = make(handler);
      const port = await listen(server);
      return {
        core: handler.core,
        port,
        request: (path, init = {}) => fetchStream(`http://127.0.0.1:${port}/trpc/${path}`, init),
        close: async () => {
          handler.core.close();
          await closeServer(server);
        },
      };
    },
  };
}

function expressAdapter(name: string, expressModule: typeof express5): AdapterUnderTest {
  return {
    name,
    http2: false,
    async start(router, extra = {}) {
      const app = expressModule();
      const middleware = createSSEMiddleware({
        router,
        createContext: ({ req, info }) => contextFromHeaders((n) => req.get(n) ?? null, info.connectionParams),
        ...extra,
      });
      app.use('/trpc', middleware);
      const server = createServer(app);
      const port = await listen(server);
      return {
        core: middleware.core,
        request: (path, init = {}) => fetchStream(`http://127.0.0.1:${port}/trpc/${path}`, init),
        close: async () => {
          middleware.core.close();
          await closeServer(server);
        },
      };
    },
  };
}

function http2Adapter(name: string, tls: boolean): AdapterUnderTest {
  return {
    name,
    http2: true,
    async start(router, extra = {}) {
      const handler = testNodeHandler(router, extra);
      const certificate = tls ? selfSignedCertificate() : undefined;
      const server = certificate
        ? http2.createSecureServer(
            { key: certificate.key, cert: certificate.cert },
            (req, res) => void handler(req, res),
          )
        : http2.createServer((req, res) => void handler(req, res));
      const sessions = new Set<http2.ServerHttp2Session>();
      server.on('session', (session) => {
        sessions.add(session);
        session.on('close', () => sessions.delete(session));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      const client = http2.connect(
        `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
        certificate ? { ca: certificate.cert } : {},
      );
      return {
        core: handler.core,
        request: (path, init = {}) =>
          new Promise<RawStream>((resolve, reject) => {
            const req = client.request({
              ':method': init.method ?? 'GET',
              ':path': `/trpc/${path}`,
              ...init.headers,
            });
            if (init.body !== undefined) req.end(init.body);
            else req.end();
            const queue = eventQueue();
            req.on('response', (headers) => {
              const flat: Record<string, string> = {};
              for (const [key, value] of Object.entries(headers)) if (!key.startsWith(':')) flat[key] = String(value);
              resolve({
                status: Number(headers[':status']),
                headers: flat,
                next: queue.next,
                text: queue.text,
                cancel: () => req.close(http2.constants.NGHTTP2_CANCEL),
              });
            });
            req.on('data', (chunk: Buffer) => queue.push(new Uint8Array(chunk)));
            req.on('end', () => queue.end());
            req.on('close', () => queue.end());
            req.on('error', (error: Error) => {
              queue.end(error);
              reject(error);
            });
          }),
        close: async () => {
          handler.core.close();
          client.close();
          for (const session of sessions) session.destroy();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    },
  };
}

const fetchAdapter: AdapterUnderTest = {
  name: 'fetch',
  http2: false,
  async start(router, extra = {}) {
    const handler = createSSEFetchHandler({
      router,
      endpoint: '/trpc',
      createContext: ({ req, info }) => contextFromHeaders((n) => req.headers.get(n), info.connectionParams),
      ...extra,
    });
    return {
      core: handler.core,
      async request(path, init = {}) {
        const controller = new AbortController();
        const response = await handler(
          new Request(`http://127.0.0.1/trpc/${path}`, {
            method: init.method ?? 'GET',
            headers: init.headers ?? {},
            ...(init.body === undefined ? {} : { body: init.body }),
            signal: controller.signal,
          }),
        );
        // A fetch runtime signals a leaving client both ways; do both.
        return streamFromResponse(response, () => controller.abort());
      },
      close: async () => handler.core.close(),
    };
  },
};

/** Every adapter, for `describe.each`. */
export const ADAPTERS: AdapterUnderTest[] = [
  nodeAdapter('node:http', (handler) => createServer((req, res) => void handler(req, res))),
  http2Adapter('node:http2 h2c', false),
  http2Adapter('node:http2 TLS', true),
  expressAdapter('express 5', express5),
  expressAdapter('express 4', express4),
  fetchAdapter,
];
