/**
 * Hostile and malformed requests: each gets a typed error, the server stays up, and a stream
 * that was already open carries on untouched.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { SSEMessage } from '../../src/codec/decoder.js';
import { ADAPTERS, type RawStream, type RunningAdapter } from '../helpers/adapters.js';
import { createTestRouter } from '../helpers/router.js';

const SSE = { accept: 'text/event-stream' };
const nodeAdapter = ADAPTERS.find((a) => a.name === 'node:http')!;

let server: RunningAdapter;
let fixture: ReturnType<typeof createTestRouter>;
beforeAll(async () => {
  fixture = createTestRouter();
  server = await nodeAdapter.start(fixture.router, { maxInputLength: 1024, maxLastEventIdLength: 64 });
});
afterAll(() => server.close());

async function errorOf(stream: RawStream): Promise<{ code: string; message: string; httpStatus: number }> {
  const events: SSEMessage[] = [];
  for (let e = await stream.next(); e; e = await stream.next()) events.push(e);
  expect(events.map((e) => e.event)).toEqual(['connected', 'serialized-error']);
  const shape = JSON.parse(events[1]!.data) as { message: string; data: { code: string; httpStatus: number } };
  return { code: shape.data.code, message: shape.message, httpStatus: shape.data.httpStatus };
}

test.each([
  ['malformed input JSON', 'counter?input=%7B%22count%22%3A', {}, 'PARSE_ERROR'],
  ['input of the wrong type', `counter?input=${encodeURIComponent('"ten"')}`, {}, 'BAD_REQUEST'],
  ['unknown path', 'does.not.exist', {}, 'NOT_FOUND'],
  ['path with traversal', '..%2F..%2Fetc%2Fpasswd', {}, 'NOT_FOUND'],
  ['a query called as a subscription', 'hello', {}, 'METHOD_NOT_SUPPORTED'],
  ['a mutation called as a subscription', 'echo', {}, 'METHOD_NOT_SUPPORTED'],
  [
    'oversize input',
    `counter?input=${encodeURIComponent(JSON.stringify({ count: 1, pad: 'x'.repeat(5000) }))}`,
    {},
    'PAYLOAD_TOO_LARGE',
  ],
  [
    'oversize Last-Event-ID',
    `counter?input=${encodeURIComponent('{"count":1}')}`,
    { 'last-event-id': '9'.repeat(65) },
    'BAD_REQUEST',
  ],
  [
    'Last-Event-ID with control characters (query form)',
    `counter?input=${encodeURIComponent('{"count":1}')}&lastEventId=%00%0Aevent%3A%20x`,
    {},
    'BAD_REQUEST',
  ],
  ['malformed connectionParams', 'secret?connectionParams=%7Bnope', {}, 'PARSE_ERROR'],
  [
    'connectionParams that are not strings',
    `secret?connectionParams=${encodeURIComponent('{"user":1}')}`,
    {},
    'PARSE_ERROR',
  ],
  ['batched subscription paths', 'counter,counter', {}, 'NOT_FOUND'],
])('%s → %s', async (_name, path, headers, code) => {
  const error = await errorOf(await server.request(path, { headers: { ...SSE, ...headers } }));
  expect(error.code).toBe(code);
  expect(error.message.length).toBeGreaterThan(0);
});

test('a stream that was open before the abuse is untouched by it', async () => {
  const live = await server.request('live', { headers: SSE });
  expect((await live.next())?.event).toBe('connected');
  const abuse = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      server.request(i % 2 ? 'nope' : 'counter?input=%7B', { headers: SSE }).then(errorOf),
    ),
  );
  expect(new Set(abuse.map((e) => e.code))).toEqual(new Set(['NOT_FOUND', 'PARSE_ERROR']));
  fixture.feed.emit('item', { id: 'a1', text: 'still here' });
  const event = await live.next();
  expect(event).toMatchObject({ event: 'message', id: 'a1' });
  expect(JSON.parse(event!.data)).toEqual({ id: 'a1', text: 'still here' });
  live.cancel();
  // The server still answers.
  const ok = await server.request(`plain?input=1`, { headers: SSE });
  expect((await ok.next())?.event).toBe('connected');
  expect((await ok.next())?.data).toBe('0');
});

test('a tracked id that would inject fields is refused with a typed error, not written', async () => {
  const { router } = (await import('../helpers/injectionRouter.js')).createInjectionRouter();
  const injected = await nodeAdapter.start(router);
  try {
    const stream = await injected.request('evil', { headers: SSE });
    const events: SSEMessage[] = [];
    for (let e = await stream.next(); e; e = await stream.next()) events.push(e);
    expect(events.map((e) => e.event)).toEqual(['connected', 'message', 'serialized-error']);
    expect(events.some((e) => e.event === 'pwned')).toBe(false);
    expect((JSON.parse(events[2]!.data) as { data: { code: string } }).data.code).toBe('INTERNAL_SERVER_ERROR');
  } finally {
    await injected.close();
  }
});

/**
 * One rule for ids at both ends: an id a procedure emits is written only if the server accepts
 * it back on a resume; otherwise the subscription fails in-band where the id is made (not on
 * the client's first reconnect, which could never succeed).
 */
test.each([
  ['a plain id', 'evt-41', true],
  ['non-Latin-1 characters', 'évt-日本', true],
  ['C1 and other non-ASCII characters', 'a\u0085b\u00a0c', true],
  ['exactly maxLastEventIdLength characters', 'x'.repeat(64), true],
  ['a TAB', 'a\tb', false],
  ['another control character', 'a\u0001b', false],
  ['DEL', 'a\u007fb', false],
  ['more than maxLastEventIdLength characters', 'x'.repeat(65), false],
])('a tracked id with %s: written and accepted back, or refused at emit (%s)', async (_name, id, valid) => {
  const { initTRPC, tracked } = await import('@trpc/server');
  const t = initTRPC.create();
  const router = t.router({
    echo: t.procedure
      .input((raw) => raw as { id: string; lastEventId?: string })
      .subscription(async function* ({ input }) {
        yield tracked(input.id, input.lastEventId ?? null);
      }),
  });
  const ids = await nodeAdapter.start(router, { maxLastEventIdLength: 64 });
  try {
    const input = encodeURIComponent(JSON.stringify({ id }));
    const emitted: SSEMessage[] = [];
    const first = await ids.request(`echo?input=${input}`, { headers: SSE });
    for (let e = await first.next(); e; e = await first.next()) emitted.push(e);
    const resumed: SSEMessage[] = [];
    const again = await ids.request(`echo?input=${input}&lastEventId=${encodeURIComponent(id)}`, { headers: SSE });
    for (let e = await again.next(); e; e = await again.next()) resumed.push(e);
    if (valid) {
      expect(emitted.map((e) => e.event)).toEqual(['connected', 'message', 'return']);
      expect(emitted[1]!.id).toBe(id);
      // Back on a resume, the procedure gets the very id it wrote.
      expect(resumed.map((e) => e.event)).toEqual(['connected', 'message', 'return']);
      expect(JSON.parse(resumed[1]!.data)).toBe(id);
    } else {
      expect(emitted.map((e) => e.event)).toEqual(['connected', 'serialized-error']);
      const shape = JSON.parse(emitted[1]!.data) as { message: string; data: { code: string } };
      expect(shape.data.code).toBe('INTERNAL_SERVER_ERROR');
      expect(shape.message).toMatch(
        /^Invalid tracked id: it (contains the control character U\+00[0-7][0-9A-F]|is 65 characters long)/,
      );
      // …and the server would indeed have refused it back.
      expect(resumed.map((e) => e.event)).toEqual(['connected', 'serialized-error']);
      expect((JSON.parse(resumed[1]!.data) as { data: { code: string } }).data.code).toBe('BAD_REQUEST');
    }
  } finally {
    await ids.close();
  }
});
