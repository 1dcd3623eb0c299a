import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Writable } from 'node:stream';
import { bodyTooLarge, checkDeclaredLength } from '../server/bodyLimit.js';
import type { HeadersLike, SSERequest, SSEResponseSink } from '../server/request.js';

/** A Node request: `node:http` or the `node:http2` compatibility API (h2c or TLS). */
export type NodeRequest = IncomingMessage | Http2ServerRequest;
/** A Node response, matching {@link NodeRequest}. */
export type NodeResponse = ServerResponse | Http2ServerResponse;

function nodeHeaders(req: NodeRequest): HeadersLike {
  return {
    get(name) {
      const value = req.headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

export function isHttp2(req: NodeRequest): boolean {
  return req.httpVersionMajor >= 2;
}

/**
 * Describes a Node request to the core. `path` is the procedure path the adapter worked out.
 * The signal aborts when the response closes before it was finished: the client left.
 */
export function toSSERequest(req: NodeRequest, res: NodeResponse, path: string): SSERequest {
  const rawUrl = req.url ?? '/';
  const queryStart = rawUrl.indexOf('?');
  const controller = new AbortController();
  res.once('close', () => {
    // Closed before we ended it: the client left. (`writableFinished` cannot tell on HTTP/2,
    // where a reset stream reports itself finished.)
    if (!res.writableEnded) controller.abort();
  });
  const host = req.headers[':authority'] ?? req.headers.host ?? 'localhost';
  let url: URL | null = null;
  try {
    url = new URL(rawUrl, `http://${String(host)}`);
  } catch {
    url = null;
  }
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path,
    searchParams: new URLSearchParams(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1)),
    headers: nodeHeaders(req),
    url,
    signal: controller.signal,
    readBody: (maxBytes) => readNodeBody(req, maxBytes),
  };
}

/**
 * Reads a Node request body up to `maxBytes`. A body already parsed by a framework (Express's
 * `express.json()` sets `req.body`) is used as it is.
 */
function readNodeBody(req: NodeRequest, maxBytes: number): Promise<string> {
  // Trust `req.body` only when a parser really read this body (body-parser marks that with
  // `_body`); some set `req.body = {}` for requests they skip, which would hide ours.
  const { body: parsed, _body: wasParsed } = req as { body?: unknown; _body?: boolean };
  if (wasParsed === true && parsed !== undefined) {
    return Promise.resolve(typeof parsed === 'string' ? parsed : JSON.stringify(parsed));
  }
  return new Promise((resolve, reject) => {
    try {
      checkDeclaredLength(req.headers['content-length'], maxBytes);
    } catch (error) {
      reject(error);
      return;
    }
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
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * Writes an event stream straight to a Node response: `res.write` with its own
 * backpressure (`false` → wait for `drain`), no web streams in between.
 */
export function nodeResponseSink(res: NodeResponse): SSEResponseSink {
  // On HTTP/2 the compatibility response exposes the stream's buffer through `res.stream`.
  const writable: Writable = 'stream' in res ? (res.stream as unknown as Writable) : (res as unknown as Writable);
  const flush = (res as { flush?: () => void }).flush;
  let waiting: Promise<void> | undefined;
  return {
    start(status, headers) {
      if (res.headersSent) return;
      res.writeHead(status, headers);
      // Send the headers now: a client waits for them before it reports "connected".
      (res as ServerResponse).flushHeaders?.();
    },
    write(chunk) {
      if (res.writableEnded || res.destroyed) return true;
      const ok = (res as ServerResponse).write(chunk);
      // compression() buffers output until flushed; SSE must not sit in a buffer.
      flush?.call(res);
      return ok;
    },
    drained() {
      if (!writable.writableNeedDrain || res.destroyed || res.writableEnded) return Promise.resolve();
      // One listener pair per sink, however many writers wait (one per subscription when multiplexed).
      waiting ??= new Promise<void>((resolve) => {
        const done = (): void => {
          writable.off('drain', done);
          res.off('close', done);
          waiting = undefined;
          resolve();
        };
        writable.on('drain', done);
        res.on('close', done);
      });
      return waiting;
    },
    get bufferedBytes() {
      return writable.writableLength ?? 0;
    },
    end() {
      if (!res.writableEnded) res.end();
    },
  };
}
