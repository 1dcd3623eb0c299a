/**
 * The adapter contract: every adapter serves the same wire, stops procedures when the
 * client leaves, carries errors with their codes, and serves queries and mutations.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SSEMessage } from '../../src/codec/decoder.js';
import { ADAPTERS, type RawStream, type RunningAdapter } from '../helpers/adapters.js';
import { createTestRouter } from '../helpers/router.js';

const SSE = { accept: 'text/event-stream' };
const q = (input: unknown): string => `input=${encodeURIComponent(JSON.stringify(input))}`;

async function readAll(stream: RawStream): Promise<SSEMessage[]> {
  const events: SSEMessage[] = [];
  for (let event = await stream.next(); event; event = await stream.next()) events.push(event);
  return events;
}

describe.each(ADAPTERS)('$name', (adapter) => {
  let server: RunningAdapter;
  let fixture: ReturnType<typeof createTestRouter>;
  const errors: Array<{ code: string; path: string | undefined }> = [];

  beforeAll(async () => {
    fixture = createTestRouter();
    server = await adapter.start(fixture.router, {
      onError: ({ error, path }) => errors.push({ code: error.code, path }),
    });
  });
  afterAll(() => server.close());

  test('speaks tRPC’s dialect: headers, connected, tracked ids, return', async () => {
    const stream = await server.request(`counter?${q({ count: 3 })}`, { headers: SSE });
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream');
    expect(stream.headers['cache-control']).toBe('no-cache, no-transform');
    expect(stream.headers['x-accel-buffering']).toBe('no');
    // Hop-by-hop headers are forbidden on HTTP/2.
    if (adapter.http2) expect(stream.headers['connection']).toBeUndefined();
    const events = await readAll(stream);
    expect(events[0]).toMatchObject({ event: 'connected' });
    expect(JSON.parse(events[0]!.data)).toEqual({ reconnectAfterInactivityMs: 30_000 });
    expect(events.slice(1).map((e) => [e.event, e.id, e.data])).toEqual([
      ['message', '0', '{"n":0}'],
      ['message', '1', '{"n":1}'],
      ['message', '2', '{"n":2}'],
      ['return', undefined, ''],
    ]);
  });

  test('a plain GET without Accept still gets a stream for a subscription', async () => {
    const events = await readAll(await server.request(`plain?${q(2)}`));
    expect(events.map((e) => e.event)).toEqual(['connected', 'message', 'message', 'return']);
    expect(events.slice(1, 3).map((e) => [e.id, e.data])).toEqual([
      [undefined, '0'],
      [undefined, '1'],
    ]);
  });

  test('observables are served and completed', async () => {
    const events = await readAll(await server.request(`observe?${q(3)}`, { headers: SSE }));
    expect(events.map((e) => e.data).slice(1, 4)).toEqual(['0', '1', '2']);
    expect(events.at(-1)?.event).toBe('return');
  });

  test('the client leaving aborts the procedure and runs its finally', async () => {
    const finished = fixture.probe.finished;
    const stream = await server.request('idle', { headers: SSE });
    expect((await stream.next())?.event).toBe('connected');
    expect((await stream.next())?.data).toBe('"ready"');
    const done = fixture.probe.next('finished');
    stream.cancel();
    await done;
    expect(fixture.probe.finished).toBe(finished + 1);
    await expect.poll(() => server.core.openStreams, { timeout: 10_000 }).toBe(0);
  });

  test('errors before the stream carry their code in-band, onError fires once', async () => {
    errors.length = 0;
    const cases: Array<[string, string]> = [
      ['nope?input=1', 'NOT_FOUND'],
      [`counter?${q({ count: 'x' })}`, 'BAD_REQUEST'],
      ['secret', 'UNAUTHORIZED'],
      [`hello?${q({ name: 'x' })}`, 'METHOD_NOT_SUPPORTED'],
    ];
    for (const [path, code] of cases) {
      const events = await readAll(await server.request(path, { headers: SSE }));
      expect(events.map((e) => e.event)).toEqual(['connected', 'serialized-error']);
      const shape = JSON.parse(events[1]!.data) as { data: { code: string; path: string } };
      expect(shape.data.code).toBe(code);
    }
    expect(errors.map((e) => e.code)).toEqual(cases.map(([, code]) => code));
  });

  test('an error thrown mid-stream ends the stream with serialized-error', async () => {
    const events = await readAll(
      await server.request(`failing?${q({ after: 2, code: 'FORBIDDEN' })}`, { headers: SSE }),
    );
    expect(events.map((e) => e.event)).toEqual(['connected', 'message', 'message', 'serialized-error']);
    expect(JSON.parse(events[3]!.data)).toMatchObject({
      message: 'failed with FORBIDDEN',
      data: { code: 'FORBIDDEN', httpStatus: 403 },
    });
  });

  test('Last-Event-ID reaches the procedure as input.lastEventId', async () => {
    const events = await readAll(
      await server.request(`counter?${q({ count: 4 })}`, { headers: { ...SSE, 'last-event-id': '1' } }),
    );
    expect(events.filter((e) => e.event === 'message').map((e) => e.id)).toEqual(['2', '3']);
    const viaQuery = await readAll(await server.request(`counter?${q({ count: 4 })}&lastEventId=2`, { headers: SSE }));
    expect(viaQuery.filter((e) => e.event === 'message').map((e) => e.id)).toEqual(['3']);
  });

  test('connection params and headers reach createContext', async () => {
    const viaHeader = await readAll(
      await server.request('secret', { headers: { ...SSE, authorization: 'Bearer ann' } }),
    );
    expect(JSON.parse(viaHeader[1]!.data)).toEqual({ user: 'ann', params: null });
    const params = encodeURIComponent(JSON.stringify({ user: 'bob' }));
    const viaParams = await readAll(await server.request(`secret?connectionParams=${params}`, { headers: SSE }));
    expect(JSON.parse(viaParams[1]!.data)).toEqual({ user: 'bob', params: { user: 'bob' } });
  });

  test('queries and mutations go through tRPC’s own handler', async () => {
    const query = await server.request(`hello?${q({ name: 'sse' })}`);
    expect(query.status).toBe(200);
    expect(JSON.parse(await query.text())).toEqual({ result: { data: 'hello sse' } });
    const mutation = await server.request('echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hi' }),
    });
    expect(JSON.parse(await mutation.text())).toEqual({ result: { data: 'hi' } });
    const batch = await server.request(
      `hello,hello?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { name: 'a' }, 1: { name: 'b' } }))}`,
    );
    expect(JSON.parse(await batch.text())).toEqual([{ result: { data: 'hello a' } }, { result: { data: 'hello b' } }]);
  });
});
