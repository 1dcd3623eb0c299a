/**
 * The adapters behind whatever body parser an application mounted before them. A control
 * request (PROTOCOL.md §2.4) is read from the stream when nothing read it yet, taken from
 * `req.body` when a parser did, and answered with a typed 400 when a middleware consumed the
 * stream and left nothing usable; it never waits on a stream that will not speak again.
 * Mutations go to tRPC's own handler, which must see the real body behind every parser too.
 */
import { createTRPCClient, httpLink, splitLink } from '@trpc/client';
import express5, { type RequestHandler } from 'express';
import express4 from 'express4';
import { EventEmitter, once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import http2 from 'node:http2';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { createSSEMiddleware, type CreateSSEMiddlewareOptions } from '../../src/adapters/express.js';
import { createSSEFetchHandler } from '../../src/adapters/fetch.js';
import { createSSEHandler } from '../../src/adapters/node.js';
import { createSSEClient, sseLink } from '../../src/client/index.js';
import { createSSEDecoder, type SSEMessage } from '../../src/codec/decoder.js';
import { MUX_PATH } from '../../src/protocol.js';
import { Collector } from '../helpers/collector.js';
import { createTestRouter, type TestRouter } from '../helpers/router.js';
import { closeServer, listen } from '../helpers/servers.js';

type ExpressModule = typeof express5;
const EXPRESSES: Array<{ name: string; express: ExpressModule }> = [
  { name: 'express 5', express: express5 },
  { name: 'express 4', express: express4 },
];

/** Every body parser Express ships, as an application would mount it in front of everything. */
const PARSERS: Array<{ name: string; make: (e: ExpressModule) => RequestHandler | null }> = [
  { name: 'no parser', make: () => null },
  { name: 'express.json()', make: (e) => e.json() },
  { name: 'express.text()', make: (e) => e.text() },
  { name: "express.text({ type: '*/*' })", make: (e) => e.text({ type: '*/*' }) },
  { name: 'express.raw()', make: (e) => e.raw() },
  { name: "express.raw({ type: '*/*' })", make: (e) => e.raw({ type: '*/*' }) },
  { name: 'express.urlencoded()', make: (e) => e.urlencoded({ extended: false }) },
];

const FAST = { minDelayMs: 5, maxDelayMs: 20 };
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Statuses of the control requests (POSTs to `{endpoint}/trpc-sse`) a server answered, awaitable. */
class ControlLog extends EventEmitter {
  readonly statuses: number[] = [];
  record(status: number): void {
    this.statuses.push(status);
    this.emit('answered');
  }
  async until(count: number): Promise<void> {
    while (this.statuses.length < count) await once(this, 'answered');
  }
}

/** The multiplexed protocol's requests: the stream and control requests. */
const MUX = `/trpc/${MUX_PATH}`;

function isControl(method: string | undefined, url: string | undefined): boolean {
  return method === 'POST' && (url ?? '').split('?')[0] === MUX;
}

/** Our Express middleware at /trpc behind `before` (mounted app-wide, in order). */
async function startExpress(
  expressModule: ExpressModule,
  before: RequestHandler[],
  extra: Partial<CreateSSEMiddlewareOptions<TestRouter>> = {},
) {
  const fixture = createTestRouter();
  const controls = new ControlLog();
  const app = expressModule();
  app.use((req, res, next) => {
    if (isControl(req.method, req.originalUrl)) res.on('finish', () => controls.record(res.statusCode));
    next();
  });
  for (const handler of before) app.use(handler);
  const middleware = createSSEMiddleware({ router: fixture.router, ...extra });
  app.use('/trpc', middleware);
  const server = createServer(app);
  const port = await listen(server);
  cleanup.push(async () => {
    middleware.core.close();
    await closeServer(server);
  });
  return { ...fixture, controls, port, url: `http://127.0.0.1:${port}/trpc`, mux: `http://127.0.0.1:${port}${MUX}` };
}

function trpcClient(url: string) {
  const sse = createSSEClient({ url, retry: FAST, mode: 'multiplexed' });
  cleanup.push(() => sse.close());
  return createTRPCClient<TestRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: sseLink({ client: sse }),
        false: httpLink({ url }),
      }),
    ],
  });
}

/** A multiplexed stream opened by hand, read up to its `connection` event. */
async function openStream(fetchStream: (init: RequestInit) => Promise<Response>) {
  const controller = new AbortController();
  cleanup.push(() => controller.abort());
  const response = await fetchStream({ headers: { accept: 'text/event-stream' }, signal: controller.signal });
  expect(response.status).toBe(200);
  const events: SSEMessage[] = [];
  const decoder = createSSEDecoder({ onEvent: (event) => events.push(event) });
  const reader = response.body!.getReader();
  while (events.length === 0) {
    const chunk = await reader.read();
    if (chunk.done) throw new Error('the stream ended before its connection event');
    decoder.push(chunk.value);
  }
  expect(events[0]!.event).toBe('connection');
  const hello = JSON.parse(events[0]!.data) as { connectionId: string; secret: string };
  return {
    'content-type': 'application/json',
    'trpc-sse-connection': hello.connectionId,
    'trpc-sse-secret': hello.secret,
  };
}

/** A control request's status and JSON answer. */
async function answerOf(
  response: Response,
): Promise<{ status: number; body: { error?: { message: string; data: { code: string } } } | null }> {
  const text = await response.text();
  return {
    status: response.status,
    body: text ? (JSON.parse(text) as { error?: { message: string; data: { code: string } } }) : null,
  };
}

/** Sends a body without `Content-Length` (chunked), so only its parsed size can tell it is too big. */
function postChunked(
  port: number,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: MUX, method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    // Two writes and no length: Node sends it chunked.
    req.write(body.slice(0, 10));
    req.end(body.slice(10));
  });
}

/** A middleware that reads the request stream to its end and leaves `req.body` as `leave()` says. */
function consumesBody(leave: () => unknown): RequestHandler {
  return (req, _res, next) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      (req as { body?: unknown }).body = leave();
      next();
    });
  };
}

const UNUSABLE: Array<{ name: string; leave: () => unknown; cause: RegExp }> = [
  { name: 'undefined', leave: () => undefined, cause: /req\.body is undefined/ },
  {
    name: 'an empty object (a skipped body-parser 1 placeholder)',
    leave: () => ({}),
    cause: /req\.body is an empty object/,
  },
  { name: 'a value JSON cannot carry', leave: () => ({ n: 1n }), cause: /req\.body cannot be turned into JSON/ },
];

describe.each(EXPRESSES)('$name', ({ express }) => {
  describe.each(PARSERS)('behind $name', ({ make }) => {
    test('a subscription made on the open stream delivers, an unsubscribe stops it, a mutation works', async () => {
      const parser = make(express);
      const server = await startExpress(express, parser ? [parser] : []);
      const trpc = trpcClient(server.url);

      // The first subscription rides on the stream's opening request.
      const first = new Collector<string>();
      trpc.idle.subscribe(undefined, first.handlers());
      await first.untilData(1);
      expect(server.controls.statuses).toEqual([]);

      // The stream is open: the second one travels by control request.
      const second = new Collector<string>();
      const secondSub = trpc.idle.subscribe(undefined, second.handlers());
      await second.untilData(1);
      expect(second.data).toEqual(['ready']);
      await server.controls.until(1);
      expect(server.controls.statuses).toEqual([204]);

      // Unsubscribing is a control request too; the procedure's `finally` runs.
      const finished = server.probe.next('finished');
      secondSub.unsubscribe();
      await finished;
      expect(server.probe.finished).toBe(1);
      await server.controls.until(2);
      expect(server.controls.statuses).toEqual([204, 204]);
      expect(first.stopped).toBe(0);

      await expect(trpc.echo.mutate({ text: 'through tRPC' })).resolves.toBe('through tRPC');
      await expect(trpc.hello.query({ name: 'parser' })).resolves.toBe('hello parser');
    });
  });

  test('more control requests than may be in flight, behind express.json(): each is answered', async () => {
    const server = await startExpress(express, [express.json()], { maxPendingControlRequests: 2 });
    const headers = await openStream((init) => fetch(server.mux, init));
    for (let i = 0; i < 5; i++) {
      const answer = await fetch(server.mux, {
        method: 'POST',
        headers,
        body: JSON.stringify({ ops: [{ op: 'subscribe', id: `s${i}`, path: 'plain', input: 1 }] }),
      });
      expect(answer.status).toBe(204);
    }
  });

  describe.each(UNUSABLE)('a middleware read the body and left req.body $name', ({ leave, cause }) => {
    test('the control request fails at once with a typed 400 naming the cause', async () => {
      const server = await startExpress(express, [consumesBody(leave)]);
      const headers = await openStream((init) => fetch(server.mux, init));
      const answer = await answerOf(await fetch(server.mux, { method: 'POST', headers, body: '{"ops":[]}' }));
      expect(answer.status).toBe(400);
      expect(answer.body?.error?.data.code).toBe('BAD_REQUEST');
      expect(answer.body?.error?.message).toMatch(/already read by another middleware/);
      expect(answer.body?.error?.message).toMatch(cause);
      expect(answer.body?.error?.message).toMatch(/mount trpc-sse before body parsers/);
    });
  });

  describe.each([
    { name: 'express.json()', make: (e: ExpressModule) => e.json() },
    { name: "express.text({ type: '*/*' })", make: (e: ExpressModule) => e.text({ type: '*/*' }) },
    { name: "express.raw({ type: '*/*' })", make: (e: ExpressModule) => e.raw({ type: '*/*' }) },
  ])('a control body past maxControlBodyBytes, parsed by $name', ({ make }) => {
    const big = JSON.stringify({ ops: [{ op: 'subscribe', id: 'big', path: 'primitive', input: 'x'.repeat(4096) }] });

    test('declared by Content-Length: 413', async () => {
      const server = await startExpress(express, [make(express)], { maxControlBodyBytes: 1024 });
      const headers = await openStream((init) => fetch(server.mux, init));
      const answer = await answerOf(await fetch(server.mux, { method: 'POST', headers, body: big }));
      expect(answer.status).toBe(413);
      expect(answer.body?.error?.data.code).toBe('PAYLOAD_TOO_LARGE');
    });

    test('sent chunked, so only the parsed body tells: 413', async () => {
      const server = await startExpress(express, [make(express)], { maxControlBodyBytes: 1024 });
      const headers = await openStream((init) => fetch(server.mux, init));
      const answer = await postChunked(server.port, headers, big);
      expect(answer.status).toBe(413);
      expect((JSON.parse(answer.text) as { error: { data: { code: string } } }).error.data.code).toBe(
        'PAYLOAD_TOO_LARGE',
      );
      // Within the limit, the same chunked path is applied.
      const small = await postChunked(
        server.port,
        headers,
        JSON.stringify({ ops: [{ op: 'subscribe', id: 'small', path: 'primitive', input: 'x' }] }),
      );
      expect(small.status).toBe(204);
    });
  });
});

/** node:http and node:http2 servers whose request handler may read the body before ours. */
describe('the Node handler', () => {
  type Prelude = (req: IncomingMessage | http2.Http2ServerRequest) => Promise<void>;
  const nothing: Prelude = () => Promise.resolve();
  const consume: Prelude = async (req) => {
    req.resume();
    await once(req, 'end');
  };
  const parseJson: Prelude = async (req) => {
    let text = '';
    req.setEncoding('utf8');
    for await (const chunk of req) text += chunk as string;
    (req as { body?: unknown }).body = JSON.parse(text) as unknown;
  };

  /** Runs `prelude` before the handler for the first control request only. */
  function preludeOnce(prelude: Prelude) {
    let pending = true;
    return (req: IncomingMessage | http2.Http2ServerRequest): Promise<void> => {
      if (!pending || !isControl(req.method, req.url)) return Promise.resolve();
      pending = false;
      return prelude(req);
    };
  }

  interface NodeServer {
    fetch: (init: RequestInit) => Promise<Response>;
    /** Sends a control request's headers and the start of a 1,000-byte body, then leaves. */
    leaveMidBody(headers: Record<string, string>): void;
  }

  function handlerFor(onError?: (code: string) => void) {
    const fixture = createTestRouter();
    return createSSEHandler({
      router: fixture.router,
      basePath: '/trpc',
      ...(onError ? { onError: ({ error }: { error: { code: string } }) => onError(error.code) } : {}),
    });
  }

  async function startNode(prelude: Prelude, onError?: (code: string) => void): Promise<NodeServer> {
    const handler = handlerFor(onError);
    const firstControl = preludeOnce(prelude);
    const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
      void firstControl(req).then(() => handler(req, res));
    });
    const port = await listen(server);
    cleanup.push(async () => {
      handler.core.close();
      await closeServer(server);
    });
    const url = `http://127.0.0.1:${port}${MUX}`;
    return {
      fetch: (init) => fetch(url, init),
      leaveMidBody(headers) {
        const socket = connect(port, '127.0.0.1', () => {
          const head = Object.entries({ ...headers, host: '127.0.0.1', 'content-length': '1000' })
            .map(([name, value]) => `${name}: ${value}\r\n`)
            .join('');
          socket.write(`POST ${MUX} HTTP/1.1\r\n${head}\r\n{"ops":[`, () => socket.destroy());
        });
      },
    };
  }

  async function startHttp2(prelude: Prelude, onError?: (code: string) => void): Promise<NodeServer> {
    const handler = handlerFor(onError);
    const firstControl = preludeOnce(prelude);
    const server = http2.createServer((req, res) => {
      void firstControl(req).then(() => handler(req, res));
    });
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on('session', (session) => {
      sessions.add(session);
      session.on('close', () => sessions.delete(session));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const client = http2.connect(`http://127.0.0.1:${port}`);
    cleanup.push(async () => {
      handler.core.close();
      client.close();
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return {
      /** A fetch-shaped call over the HTTP/2 session. */
      fetch: (init) =>
        new Promise((resolve, reject) => {
          const stream = client.request({
            ':method': init.method ?? 'GET',
            ':path': MUX,
            ...(init.headers as Record<string, string>),
          });
          init.signal?.addEventListener('abort', () => stream.close(http2.constants.NGHTTP2_CANCEL), { once: true });
          stream.end(typeof init.body === 'string' ? init.body : undefined);
          stream.on('error', reject);
          stream.on('response', (head) => {
            const body = new ReadableStream<Uint8Array>({
              start(controller) {
                stream.on('data', (chunk: Buffer) => controller.enqueue(new Uint8Array(chunk)));
                stream.on('close', () => {
                  try {
                    controller.close();
                  } catch {
                    // Cancelled by the reader.
                  }
                });
              },
            });
            const status = Number(head[':status']);
            // A 204 may carry no body, not even an empty one.
            resolve(new Response(status === 204 ? null : body, { status }));
          });
        }),
      leaveMidBody(headers) {
        const stream = client.request({ ':method': 'POST', ':path': MUX, ...headers, 'content-length': '1000' });
        stream.on('error', () => undefined);
        stream.write('{"ops":[', () => stream.close(http2.constants.NGHTTP2_CANCEL));
      },
    };
  }

  const body = JSON.stringify({ ops: [{ op: 'subscribe', id: 'a', path: 'plain', input: 1 }] });
  const PROTOCOLS = [
    { name: 'node:http', start: startNode },
    { name: 'node:http2', start: startHttp2 },
  ];

  test.each(PROTOCOLS)(
    '$name: a body read and parsed first is used; one read and dropped gets a typed 400',
    async ({ start }) => {
      const parsed = await start(parseJson);
      const parsedHeaders = await openStream(parsed.fetch);
      expect((await answerOf(await parsed.fetch({ method: 'POST', headers: parsedHeaders, body }))).status).toBe(204);

      const dropped = await start(consume);
      const droppedHeaders = await openStream(dropped.fetch);
      const answer = await answerOf(await dropped.fetch({ method: 'POST', headers: droppedHeaders, body }));
      expect(answer.status).toBe(400);
      expect(answer.body?.error?.data.code).toBe('BAD_REQUEST');
      expect(answer.body?.error?.message).toMatch(/already read by another middleware/);
    },
  );

  const afterClientLeft: Prelude = (req) =>
    new Promise((resolve) => {
      // HTTP/1 also reports the abort as an error; this handler has seen it.
      req.on('error', () => undefined);
      req.once('aborted', () => resolve());
    });
  test.each(
    PROTOCOLS.flatMap(({ name, start }) => [
      { name, start, when: 'while the body arrives', prelude: nothing },
      { name, start, when: 'after the client left', prelude: afterClientLeft },
    ]),
  )('$name: a client leaving mid-body, read $when: CLIENT_CLOSED_REQUEST', async ({ start, prelude }) => {
    const codes: string[] = [];
    let reported!: () => void;
    const failed = new Promise<void>((resolve) => (reported = resolve));
    const server = await start(prelude, (code) => {
      codes.push(code);
      reported();
    });
    const headers = await openStream(server.fetch);
    server.leaveMidBody(headers);
    await failed;
    expect(codes).toEqual(['CLIENT_CLOSED_REQUEST']);
    // The read let go of its place among the requests in flight: the next one is applied.
    expect((await answerOf(await server.fetch({ method: 'POST', headers, body }))).status).toBe(204);
  });
});

describe('the fetch handler', () => {
  function startFetch() {
    const fixture = createTestRouter();
    const handler = createSSEFetchHandler({ router: fixture.router, endpoint: '/trpc' });
    cleanup.push(() => handler.core.close());
    const url = `http://127.0.0.1${MUX}`;
    return { handler, url, fetch: (init: RequestInit) => handler(new Request(url, init)) };
  }
  const body = JSON.stringify({ ops: [{ op: 'subscribe', id: 'a', path: 'plain', input: 1 }] });

  test('an unread body is read', async () => {
    const server = startFetch();
    const headers = await openStream(server.fetch);
    expect((await server.fetch({ method: 'POST', headers, body })).status).toBe(204);
  });

  test.each([
    {
      name: 'read by a middleware (bodyUsed)',
      spoil: async (req: Request) => {
        await req.text();
      },
    },
    { name: 'locked by a reader left open', spoil: (req: Request) => void req.body!.getReader() },
  ])('a body $name: a typed 400, not a hang', async ({ spoil }) => {
    const server = startFetch();
    const headers = await openStream(server.fetch);
    const req = new Request(server.url, { method: 'POST', headers, body });
    await spoil(req);
    const answer = await answerOf(await server.handler(req));
    expect(answer.status).toBe(400);
    expect(answer.body?.error?.data.code).toBe('BAD_REQUEST');
    expect(answer.body?.error?.message).toMatch(/already read/);
  });
});
