/**
 * The control channel orders ops per subscription and sends unrelated ones in parallel:
 * requests are held by a fake server and released out of order.
 */
import { expect, test } from 'vitest';
import { ControlChannel, type ControlTarget } from '../../src/client/multiplexed/controlChannel.js';
import type { FetchLike, ResponseLike } from '../../src/client/options.js';
import { ClientRuntime } from '../../src/client/runtime.js';
import type { ControlOp } from '../../src/protocol.js';
import { jsonResponse } from '../helpers/fakeFetch.js';

/** A control request the fake server holds until the test answers it. */
interface HeldRequest {
  ops: ControlOp[];
  answer(response: ResponseLike): void;
}

const NO_CONTENT: ResponseLike = {
  ok: true,
  status: 204,
  statusText: '',
  headers: new Headers(),
  body: null,
  text: () => Promise.resolve(''),
};

/** A channel over a fetch that holds every request; `applied` is what the server applied, in order. */
function harness(
  target: ControlTarget = { url: 'http://server/trpc/trpc-sse', connectionId: 'c1', secret: 's', maxBodyBytes: 65_536 },
) {
  const held: HeldRequest[] = [];
  const applied: string[] = [];
  const waiters = new Set<() => void>();
  const fetch: FetchLike = (_url, init) =>
    new Promise((resolve) => {
      const { ops } = JSON.parse(init.body!) as { ops: ControlOp[] };
      held.push({
        ops,
        answer: (response) => {
          if (response.ok) for (const op of ops) applied.push(op.op === 'close' ? 'close' : `${op.op} ${op.id}`);
          resolve(response);
        },
      });
      for (const wake of [...waiters]) wake();
    });
  const runtime = new ClientRuntime({ url: 'http://server/trpc', fetch, retry: { minDelayMs: 0, maxDelayMs: 0 } });
  const events = { lost: [] as string[], dropped: [] as ControlOp[], rejected: [] as ControlOp[] };
  const channel = new ControlChannel(runtime, () => target, {
    // As the transport does: a lost connection is given up (a new one is opened).
    lost: (connectionId) => {
      events.lost.push(connectionId);
      channel.abandon(connectionId);
    },
    misdirected: () => undefined,
    rejected: (ops) => events.rejected.push(...ops),
    dropped: (ops) => events.dropped.push(...ops),
    deserialize: () => (value) => value,
  });
  /** Resolves once `count` requests have reached the server. */
  const requests = async (count: number) => {
    while (held.length < count) await new Promise<void>((resolve) => waiters.add(resolve)).then(() => waiters.clear());
    return held;
  };
  /** Lets every pending microtask and promise callback run. */
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  return { channel, held, applied, requests, settle, events, target };
}

const subscribe = (id: string): ControlOp => ({ op: 'subscribe', id, path: 'p' });
const unsubscribe = (id: string): ControlOp => ({ op: 'unsubscribe', id });

test('ops of one tick go as one request', async () => {
  const { channel, requests } = harness();
  for (const id of ['1', '2', '3']) channel.send('c1', subscribe(id));
  const [first] = await requests(1);
  expect(first!.ops.map((op) => op.op === 'close' || op.id)).toEqual(['1', '2', '3']);
});

test('a subscribe does not wait behind another subscription’s unsubscribe in flight', async () => {
  const { channel, held, applied, requests, settle } = harness();
  channel.send('c1', unsubscribe('1'));
  await requests(1);
  channel.send('c1', subscribe('2'));
  await requests(2);
  expect(held[1]!.ops).toEqual([subscribe('2')]);
  // Answered out of order: the later one first.
  held[1]!.answer(NO_CONTENT);
  held[0]!.answer(NO_CONTENT);
  await settle();
  expect(applied).toEqual(['subscribe 2', 'unsubscribe 1']);
});

test('an unsubscribe never overtakes its subscribe, through retries and answers out of order', async () => {
  const { channel, held, applied, requests, settle, events } = harness();
  channel.send('c1', subscribe('1'));
  await requests(1);
  // Issued while its subscribe is in flight: it waits, while an unrelated op goes.
  channel.send('c1', unsubscribe('1'));
  channel.send('c1', subscribe('2'));
  await requests(2);
  expect(held[1]!.ops).toEqual([subscribe('2')]);
  held[1]!.answer(NO_CONTENT);
  await settle();
  expect(held).toHaveLength(2);
  // The subscribe fails (a 503): it is retried, and the unsubscribe still waits for it.
  held[0]!.answer(
    jsonResponse(503, { error: { message: 'busy', code: -32603, data: { code: 'SERVICE_UNAVAILABLE' } } }),
  );
  await requests(3);
  expect(held[2]!.ops).toEqual([subscribe('1')]);
  await settle();
  expect(held).toHaveLength(3);
  held[2]!.answer(NO_CONTENT);
  await requests(4);
  expect(held[3]!.ops).toEqual([unsubscribe('1')]);
  held[3]!.answer(NO_CONTENT);
  await settle();
  expect(applied).toEqual(['subscribe 2', 'subscribe 1', 'unsubscribe 1']);
  expect(events).toMatchObject({ lost: [], dropped: [], rejected: [] });
});

test('requests in flight stay under the server’s maxPendingControlRequests', async () => {
  const { channel, held, requests, settle } = harness({
    url: 'http://server/trpc/trpc-sse',
    connectionId: 'c1',
    secret: 's',
    maxBodyBytes: 65_536,
    maxInFlight: 2,
  });
  for (let i = 1; i <= 5; i++) {
    channel.send('c1', subscribe(String(i)));
    // One request per tick.
    await settle();
  }
  await requests(2);
  await settle();
  // Two in flight: the other three wait, then go together when one is answered.
  expect(held).toHaveLength(2);
  held[1]!.answer(NO_CONTENT);
  await requests(3);
  await settle();
  expect(held).toHaveLength(3);
  expect(held.map((request) => request.ops.map((op) => op.op !== 'close' && op.id))).toEqual([
    ['1'],
    ['2'],
    ['3', '4', '5'],
  ]);
});

test('ops that wait past a lost connection are handed back, not sent', async () => {
  const { channel, held, requests, settle, events } = harness();
  channel.send('c1', subscribe('1'));
  await requests(1);
  channel.send('c1', unsubscribe('1'));
  await settle();
  held[0]!.answer(jsonResponse(404, { error: { message: 'gone', code: -32004, data: { code: 'NOT_FOUND' } } }));
  await settle();
  await settle();
  expect(events.lost).toEqual(['c1']);
  expect(events.dropped).toEqual([unsubscribe('1')]);
  expect(held).toHaveLength(1);
});

test('a request that failed while the stream was down does not shut out the resumed connection (same id)', async () => {
  const target: ControlTarget = {
    url: 'http://server/trpc/trpc-sse',
    connectionId: 'c1',
    secret: 's',
    maxBodyBytes: 65_536,
  };
  let current: ControlTarget | null = target;
  const sent: string[] = [];
  let calls = 0;
  const fetch: FetchLike = (_url, init) => {
    calls++;
    if (calls === 1) {
      // The network drops the request, and the stream with it: no connection while it backs off.
      current = null;
      return Promise.reject(new TypeError('fetch failed'));
    }
    for (const op of (JSON.parse(init.body!) as { ops: ControlOp[] }).ops)
      sent.push(op.op === 'close' ? 'close' : op.id);
    return Promise.resolve(NO_CONTENT);
  };
  const runtime = new ClientRuntime({ url: 'http://server/trpc', fetch, retry: { minDelayMs: 0, maxDelayMs: 0 } });
  const dropped: ControlOp[] = [];
  const channel = new ControlChannel(runtime, () => current, {
    lost: () => undefined,
    misdirected: () => undefined,
    rejected: () => undefined,
    dropped: (ops) => dropped.push(...ops),
    deserialize: () => (value) => value,
  });
  channel.send('c1', subscribe('1'));
  await expect.poll(() => dropped.map((op) => op.op !== 'close' && op.id)).toEqual(['1']);
  // The stream resumed the same connection: what is sent for it now goes out.
  current = target;
  channel.send('c1', subscribe('2'));
  await expect.poll(() => sent).toEqual(['2']);
  // Once the transport gives the connection up, what is still queued for it is handed back.
  channel.abandon('c1');
  channel.send('c1', subscribe('3'));
  await expect.poll(() => dropped.map((op) => op.op !== 'close' && op.id)).toEqual(['1', '3']);
  expect(sent).toEqual(['2']);
});
