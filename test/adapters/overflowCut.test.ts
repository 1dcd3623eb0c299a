/**
 * A stream cut off because its reader fell more than `maxBufferedBytes` behind is destroyed by
 * every adapter (what was queued is dropped), not ended behind its queue: once it no longer
 * counts against `maxStreams`, nothing else would bound what it keeps. On HTTP/2 only that
 * stream goes, not the session its neighbours share.
 */
import { initTRPC } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { afterEach, describe, expect, test } from 'vitest';
import { createSSEFetchHandler } from '../../src/adapters/fetch.js';
import { ADAPTERS, type RunningAdapter } from '../helpers/adapters.js';

const SSE = { accept: 'text/event-stream' };

function floodRouter() {
  const t = initTRPC.create();
  const stats = { finished: 0 };
  const router = t.router({
    /** An observable pushing 20 MiB at once: it cannot be paused. */
    flood: t.procedure.subscription(() =>
      observable<string>((emit) => {
        const payload = 'y'.repeat(1024);
        for (let i = 0; i < 20_000; i++) emit.next(payload);
        return () => {
          stats.finished++;
        };
      }),
    ),
    hello: t.procedure.subscription(async function* () {
      yield 'hi';
    }),
  });
  return { router, stats };
}

const running: RunningAdapter[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) await server.close();
});

describe.each(ADAPTERS)('$name', (adapter) => {
  test('an overflowing stream is cut off without return; the next stream is served as usual', async () => {
    const { router, stats } = floodRouter();
    const server = await adapter.start(router, { maxBufferedBytes: 64 * 1024 });
    running.push(server);
    const flood = await server.request('flood', { headers: SSE });
    const events: string[] = [];
    let failure: unknown;
    try {
      for (let e = await flood.next(); e; e = await flood.next()) events.push(e.event);
    } catch (error) {
      failure = error;
    }
    // Ended abruptly (or, where the transport reports a reset as an end, ended) and without
    // `return`: the client resumes from its last id.
    expect(events).not.toContain('return');
    expect(events.filter((e) => e === 'message').length).toBeLessThan(20_000);
    if (adapter.name === 'fetch') expect(failure).toBeDefined();
    await expect.poll(() => stats.finished, { timeout: 10_000 }).toBe(1);
    expect(server.core.openStreams).toBe(0);
    // On HTTP/2 this rides the same session as the flood did.
    const next = await server.request('hello', { headers: SSE });
    const rest: string[] = [];
    for (let e = await next.next(); e; e = await next.next()) rest.push(e.data);
    expect(rest.slice(1)).toEqual(['"hi"', '']);
  });
});

test('fetch: the body of a stream cut off while nobody reads it errors instead of holding its queue', async () => {
  const { router, stats } = floodRouter();
  const handler = createSSEFetchHandler({ router, endpoint: '/trpc', maxBufferedBytes: 64 * 1024 });
  try {
    const response = await handler(new Request('http://x/trpc/flood', { headers: SSE }));
    expect(stats.finished).toBe(1);
    expect(handler.core.openStreams).toBe(0);
    // The queue is gone: the first read fails, where an ended body would still hand out 64 KiB.
    await expect(response.body!.getReader().read()).rejects.toThrow(/cut off/);
  } finally {
    handler.core.close();
  }
});
