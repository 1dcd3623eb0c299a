/**
 * Behind Express's compression() middleware, events still arrive one by one: the stream's
 * `Cache-Control: no-transform` tells it to leave the response alone (a compressor would
 * hold small events back until its buffer fills).
 */
import compression from 'compression';
import express from 'express';
import { createServer } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createSSEMiddleware } from '../../src/adapters/express.js';
import { createTestRouter } from '../helpers/router.js';
import { closeServer, listen } from '../helpers/servers.js';

let url: string;
let close: () => Promise<void>;
let feed: ReturnType<typeof createTestRouter>['feed'];
beforeAll(async () => {
  const fixture = createTestRouter();
  feed = fixture.feed;
  const app = express();
  app.use(compression());
  const middleware = createSSEMiddleware({ router: fixture.router });
  app.use('/trpc', middleware);
  const server = createServer(app);
  const port = await listen(server);
  url = `http://127.0.0.1:${port}/trpc`;
  close = async () => {
    middleware.core.closeAllStreams();
    await closeServer(server);
  };
});
afterAll(() => close());

test('the event stream is not compressed and each event arrives as it is written', async () => {
  const response = await fetch(`${url}/live`, { headers: { accept: 'text/event-stream', 'accept-encoding': 'gzip' } });
  expect(response.headers.get('content-encoding')).toBeNull();
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const readUntil = async (needle: string): Promise<void> => {
    while (!text.includes(needle)) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`stream ended before ${needle}`);
      text += decoder.decode(chunk.value, { stream: true });
    }
  };
  await readUntil('event: connected');
  // One small event at a time: each must arrive before the next is published.
  for (const id of ['c1', 'c2', 'c3']) {
    feed.emit('item', { id, text: 'tiny' });
    await readUntil(`id: ${id}`);
  }
  expect(text).toContain('"id":"c3"');
  await reader.cancel();
});

test('queries next to it are still compressed', async () => {
  const big = encodeURIComponent(JSON.stringify({ name: 'x'.repeat(4000) }));
  const response = await fetch(`${url}/hello?input=${big}`, { headers: { 'accept-encoding': 'gzip' } });
  expect(response.headers.get('content-encoding')).toBe('gzip');
  expect(((await response.json()) as { result: { data: string } }).result.data).toHaveLength(6 + 4000);
});
