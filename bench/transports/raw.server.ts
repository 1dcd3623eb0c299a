/**
 * The practical limit: node:http writing `data: <json>\n\n` with nothing else. The stream
 * waits for `drain` when the socket is full; fan-out serializes each event once and writes
 * the same string to every subscriber (a subscriber more than 4 MiB behind is cut, as
 * trpc-sse's `maxBufferedBytes` would). No ids, no resume: it takes no part in the storm.
 */
import { createServer, type ServerResponse } from 'node:http';
import { nowUs } from '../lib/clock.js';
import { streamEvents } from '../procedures/stream.js';
import { listen } from './listen.js';
import type { BenchServer, ServerOptions } from './types.js';

const MAX_BUFFERED = 4 * 1024 * 1024;
const HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' };

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

async function serveStream(res: ServerResponse, count: number): Promise<void> {
  let closed = false;
  res.on('close', () => (closed = true));
  for await (const event of streamEvents(count)) {
    if (closed) break;
    if (!res.write(`data: ${JSON.stringify(event)}\n\n`)) await drained(res);
  }
  res.end();
}

export async function startServer(opts: ServerOptions): Promise<BenchServer> {
  const tickSubscribers = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/stream') {
      res.writeHead(200, HEADERS);
      const count = Math.min(Math.max(1, Number(url.searchParams.get('count')) || 1), 10_000_000);
      void serveStream(res, count);
    } else if (url.pathname === '/tick') {
      res.writeHead(200, HEADERS);
      res.flushHeaders();
      tickSubscribers.add(res);
      res.on('close', () => tickSubscribers.delete(res));
    } else if (url.pathname === '/hello') {
      res.writeHead(200, HEADERS);
      res.write(`data: ${JSON.stringify({ seq: 0, ts: nowUs() })}\n\n`);
    } else {
      res.writeHead(404).end();
    }
  });
  const port = await listen(server, opts.port);
  return {
    port,
    subscribers: () => tickSubscribers.size,
    publishTick(event) {
      const frame = `data: ${JSON.stringify(event)}\n\n`;
      for (const res of tickSubscribers) {
        if (res.writableLength > MAX_BUFFERED) res.destroy();
        else res.write(frame);
      }
    },
    counterStats: () => ({ head: NaN, resumes: 0, replayed: 0 }),
  };
}
