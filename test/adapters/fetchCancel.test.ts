/**
 * A fetch runtime says "the client left" in one of two ways, depending on the runtime:
 * the request's signal aborts, or the response body is cancelled. Either must stop the
 * procedure and run its `finally`.
 */
import { expect, test } from 'vitest';
import { createSSEFetchHandler } from '../../src/adapters/fetch.js';
import { createTestRouter } from '../helpers/router.js';

function setup() {
  const fixture = createTestRouter();
  const handler = createSSEFetchHandler({ router: fixture.router, endpoint: '/trpc' });
  return { ...fixture, handler };
}

async function firstEvents(body: ReadableStream<Uint8Array>, reader = body.getReader()): Promise<string> {
  let text = '';
  const decoder = new TextDecoder();
  while (!text.includes('"ready"')) {
    const chunk = await reader.read();
    if (chunk.done) break;
    text += decoder.decode(chunk.value);
  }
  return text;
}

test('request signal aborted → procedure stopped', async () => {
  const { handler, probe } = setup();
  const controller = new AbortController();
  const response = await handler(
    new Request('http://x/trpc/idle', { headers: { accept: 'text/event-stream' }, signal: controller.signal }),
  );
  expect(await firstEvents(response.body!)).toContain('event: connected');
  const finished = probe.next('finished');
  controller.abort();
  await finished;
  expect(handler.core.openStreams).toBe(0);
});

test('response body cancelled → procedure stopped', async () => {
  const { handler, probe } = setup();
  const response = await handler(new Request('http://x/trpc/idle', { headers: { accept: 'text/event-stream' } }));
  const reader = response.body!.getReader();
  expect(await firstEvents(response.body!, reader)).toContain('"ready"');
  const finished = probe.next('finished');
  await reader.cancel();
  await finished;
  expect(handler.core.openStreams).toBe(0);
});

test('a request aborted before the stream started gets no stream and starts nothing', async () => {
  const { handler, probe } = setup();
  const controller = new AbortController();
  controller.abort();
  const response = await handler(
    new Request('http://x/trpc/idle', { headers: { accept: 'text/event-stream' }, signal: controller.signal }),
  );
  expect(response.status).toBe(499);
  expect(probe.started).toBe(0);
});

test('sseFetchHandler (one call per request) shares one core per router', async () => {
  const { router } = createTestRouter();
  const { sseFetchHandler } = await import('../../src/adapters/fetch.js');
  const contexts: string[] = [];
  const call = (user: string) =>
    sseFetchHandler({
      req: new Request('http://x/trpc/secret', { headers: { accept: 'text/event-stream' } }),
      endpoint: '/trpc',
      router,
      // Per-request options are taken from each call.
      createContext: () => {
        contexts.push(user);
        return { user, connectionParams: null };
      },
    }).then((r) => r.text());
  const [a, b] = await Promise.all([call('ann'), call('bob')]);
  expect(a).toContain('"user":"ann"');
  expect(b).toContain('"user":"bob"');
  expect(contexts.sort()).toEqual(['ann', 'bob']);
});
