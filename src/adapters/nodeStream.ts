import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants as http2Constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Writable } from 'node:stream';
import { TRPCError } from '@trpc/server';
import { bodyTooLarge, checkDeclaredLength } from '../server/bodyLimit.js';
import type { ClientGoneListener, HeadersLike, SSERequest, SSEResponseSink } from '../server/request.js';

/** A Node request: `node:http` or the `node:http2` compatibility API (h2c or TLS). */
export type NodeRequest = IncomingMessage | Http2ServerRequest;
/** A Node response, matching {@link NodeRequest}. */
export type NodeResponse = ServerResponse | Http2ServerResponse;

/** Node's request headers read the `Headers` way (joined when repeated). */
class NodeHeaders implements HeadersLike {
  readonly #req: NodeRequest;

  constructor(req: NodeRequest) {
    this.#req = req;
  }

  get(name: string): string | null {
    const value = this.#req.headers[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }
}

export function isHttp2(req: NodeRequest): boolean {
  return req.httpVersionMajor >= 2;
}

/**
 * A Node request described to the core. `path` is the procedure path the adapter worked out.
 * The signal aborts when the response closes before it was finished: the client left.
 *
 * An open stream holds its request for its whole life, so little is kept: the method, URL
 * and query are read from Node's request when asked for (the core reads them while it sets
 * a stream up, not after), and the `AbortController` is made on the first read of `signal`
 * (Node's `AbortSignal` costs most of a kilobyte; the core reads it for every stream, but
 * not for control requests, queries or mutations). One bound listener on the response's
 * `close` notes the client leaving, whether or not the signal exists yet.
 */
export class NodeSSERequest implements SSERequest {
  readonly path: string;
  readonly headers: HeadersLike;
  readonly #req: NodeRequest;
  readonly #res: NodeResponse;
  /** The signal's controller once read; `null` before that. */
  #controller: AbortController | null = null;
  /** The response closed before we ended it: the client left (a signal read later is born aborted). */
  #left = false;
  #goneListener: ClientGoneListener | null = null;

  constructor(req: NodeRequest, res: NodeResponse, path: string) {
    this.path = path;
    this.headers = new NodeHeaders(req);
    this.#req = req;
    this.#res = res;
    res.on('close', this.#onResponseClose.bind(this));
  }

  get method(): string {
    return (this.#req.method ?? 'GET').toUpperCase();
  }

  /** Parsed on each read (the core reads it once per stream, while setting it up). */
  get url(): URL | null {
    const req = this.#req;
    const host = req.headers[':authority'] ?? req.headers.host ?? 'localhost';
    try {
      return new URL(req.url ?? '/', `http://${String(host)}`);
    } catch {
      return null;
    }
  }

  /** Parsed on each read, like {@link url}: nothing is kept for the life of a stream. */
  get searchParams(): URLSearchParams {
    const rawUrl = this.#req.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    return new URLSearchParams(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1));
  }

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#left) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  readBody(maxBytes: number): Promise<string> {
    return readNodeBody(this.#req, maxBytes);
  }

  onGone(listener: ClientGoneListener | null): boolean {
    if (this.#left) return false;
    this.#goneListener = listener;
    return true;
  }

  #onResponseClose(): void {
    // Closed before we ended it: the client left. (`writableFinished` cannot tell on HTTP/2,
    // where a reset stream reports itself finished.)
    if (this.#res.writableEnded || this.#left) return;
    this.#left = true;
    this.#controller?.abort();
    const listener = this.#goneListener;
    this.#goneListener = null;
    listener?.clientGone();
  }
}

/**
 * Whether something already read from the request stream: a body parser, most likely. Both
 * flags exist on `IncomingMessage` and on HTTP/2's compatibility request alike (Node ≥ 16.7).
 * `complete` would not do: on HTTP/1 it turns true once the body has arrived, read or not.
 */
export function bodyStreamConsumed(req: NodeRequest): boolean {
  return req.readableEnded || req.readableDidRead;
}

/**
 * Reads a Node request body up to `maxBytes`. When a middleware consumed the stream first,
 * the body is what its parser left in `req.body` (never the stream, which will not speak
 * again); a body-parser skipping a request sets `req.body` without reading anything, so
 * `req.body` counts only once the stream was read.
 */
function readNodeBody(req: NodeRequest, maxBytes: number): Promise<string> {
  try {
    checkDeclaredLength(req.headers['content-length'], maxBytes);
    // The client went away mid-body: the request was destroyed before its end (HTTP/1), or
    // aborted, whose stream HTTP/2 then ends as if the body were whole. Only HTTP/2's
    // compatibility request still reports `aborted`; on HTTP/1 it was `destroyed` before the end.
    if (('stream' in req && req.aborted) || (req.destroyed && !req.readableEnded)) throw clientLeft();
    if (bodyStreamConsumed(req)) return Promise.resolve(parsedBodyText((req as { body?: unknown }).body, maxBytes));
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        // Stop buffering; Node discards the rest once the response is sent.
        reject(bodyTooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    // HTTP/1 reports a client gone mid-body as an error (`aborted`, ECONNRESET)…
    const onError = (error: Error): void => {
      cleanup();
      reject((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? clientLeft() : error);
    };
    // …HTTP/2 by closing the request before its end (then ends it, as if the body were whole).
    const onClose = (): void => {
      cleanup();
      reject(clientLeft());
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * The text of a body a parser left in `req.body`: a string (`express.text()`), bytes
 * (`express.raw()`), or parsed JSON (`express.json()`, and `express.urlencoded()` given a
 * `type` that matches), sized as the text it stands for. Anything else cannot be told apart
 * from a body that is gone, and fails at once rather than as a puzzling parse error.
 */
function parsedBodyText(body: unknown, maxBytes: number): string {
  let text: string | undefined;
  if (typeof body === 'string') {
    text = body;
  } else if (body instanceof Uint8Array) {
    if (body.byteLength > maxBytes) throw bodyTooLarge(maxBytes);
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  } else if (body === undefined) {
    throw bodyAlreadyRead('req.body is undefined');
  } else if (isEmptyPlainObject(body)) {
    // What body-parser 1 leaves on a request it skipped; never a control request's body.
    throw bodyAlreadyRead('req.body is an empty object');
  } else {
    try {
      // Undefined for a function or a symbol, whatever its declared type says.
      text = JSON.stringify(body);
    } catch {
      text = undefined;
    }
    if (text === undefined) throw bodyAlreadyRead('req.body cannot be turned into JSON');
  }
  // Its UTF-8 size lies between its length and three times that: only a text near the limit is measured.
  if (text.length > maxBytes || (text.length * 3 > maxBytes && Buffer.byteLength(text, 'utf8') > maxBytes)) {
    throw bodyTooLarge(maxBytes);
  }
  return text;
}

function clientLeft(): TRPCError {
  return new TRPCError({
    code: 'CLIENT_CLOSED_REQUEST',
    message: 'The client went away before the request body ended',
  });
}

function isEmptyPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && Object.keys(value).length === 0;
}

function bodyAlreadyRead(cause: string): TRPCError {
  return new TRPCError({
    code: 'BAD_REQUEST',
    message:
      `The request body was already read by another middleware (${cause}): ` +
      'mount trpc-sse before body parsers, or use express.json()',
  });
}

/** Sinks holding text written in this turn, flushed together by one `process.nextTick`. */
let sinksToFlush: NodeResponseSink[] = [];

function flushSinks(): void {
  const sinks = sinksToFlush;
  sinksToFlush = [];
  for (const sink of sinks) {
    try {
      sink.flush();
    } catch {
      // A response that cannot take its text (a broken middleware's `write` or `flush`) is
      // cut off, as a failed write would leave it; the other streams still get theirs.
      try {
        sink.destroy();
      } catch {
        // Already torn down by a broken framework: nothing more to do for this one.
      }
    }
  }
}

/**
 * Writes an event stream straight to a Node response: `res.write` with its own
 * backpressure (`false` → wait for `drain`), no web streams in between. A class rather than
 * an object of closures: an open stream holds one, so its methods live on the prototype.
 *
 * Frames written in one turn (a burst from a fast procedure, a value and the frames around
 * it) are joined and handed to `res.write` once, when the turn's synchronous code and
 * microtasks are done (`process.nextTick`), or at once when they reach the socket's
 * high-water mark. Each `res.write` costs a chunk header, four writes into the socket's
 * queue and a slot in its `writev`, far more than joining short strings; Node corks the
 * socket until the next tick anyway, so nothing leaves later than it did.
 */
export class NodeResponseSink implements SSEResponseSink {
  readonly #res: NodeResponse;
  /** Where the buffer is: on HTTP/2 the compatibility response exposes the stream's as `res.stream`. */
  readonly #writable: Writable;
  /** compression()'s `res.flush`, when it is there. */
  readonly #compressionFlush: (() => void) | undefined;
  /** Every writer waiting for `drain` (one per subscription when multiplexed) shares this. */
  #waiting: Promise<void> | undefined;
  /** Text written since the last flush. */
  #pending = '';
  /** In {@link sinksToFlush}. */
  #queued = false;

  constructor(res: NodeResponse) {
    this.#res = res;
    this.#writable = 'stream' in res ? res.stream : res;
    this.#compressionFlush = (res as { flush?: () => void }).flush;
  }

  start(status: number, headers: Record<string, string>): void {
    const res = this.#res;
    if (res.headersSent) return;
    res.writeHead(status, headers);
    // Send the headers now: a client waits for them before it reports "connected".
    (res as ServerResponse).flushHeaders?.();
  }

  write(chunk: string): boolean {
    const res = this.#res;
    if (res.writableEnded || res.destroyed) return true;
    this.#pending += chunk;
    if (!this.#queued) {
      this.#queued = true;
      if (sinksToFlush.push(this) === 1) process.nextTick(flushSinks);
    }
    // Characters against bytes: a frame is mostly ASCII, and the mark is a soft bound.
    if (this.#pending.length >= this.#writable.writableHighWaterMark) return this.#write();
    return !this.#writable.writableNeedDrain;
  }

  /** Hands what was written since the last flush to the response (called once per turn). */
  flush(): void {
    this.#queued = false;
    this.#write();
  }

  #write(): boolean {
    const text = this.#pending;
    if (text === '') return !this.#writable.writableNeedDrain;
    this.#pending = '';
    const res = this.#res;
    if (res.writableEnded || res.destroyed) return true;
    const ok = (res as ServerResponse).write(text);
    // compression() buffers output until flushed; SSE must not sit in a buffer.
    this.#compressionFlush?.call(res);
    return ok;
  }

  drained(): Promise<void> {
    const res = this.#res;
    const writable = this.#writable;
    if (!writable.writableNeedDrain || res.destroyed || res.writableEnded) return Promise.resolve();
    // One listener pair per sink, however many writers wait.
    this.#waiting ??= new Promise<void>((resolve) => {
      const done = (): void => {
        writable.off('drain', done);
        res.off('close', done);
        this.#waiting = undefined;
        resolve();
      };
      writable.on('drain', done);
      res.on('close', done);
    });
    return this.#waiting;
  }

  /** Queued on the socket, plus what waits for this turn's flush (in characters). */
  get bufferedBytes(): number {
    return (this.#writable.writableLength ?? 0) + this.#pending.length;
  }

  end(): void {
    if (this.#res.writableEnded) return;
    this.#write();
    this.#res.end();
  }

  destroy(): void {
    this.#pending = '';
    const res = this.#res;
    if ('stream' in res) {
      // HTTP/2: reset this stream only (its queued data goes with it), not the session.
      if (!res.stream.closed) res.stream.close(http2Constants.NGHTTP2_CANCEL);
    } else if (!res.destroyed) {
      res.destroy();
    }
  }
}
