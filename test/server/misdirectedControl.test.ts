/**
 * Without a connection directory, a process tells a control request for a connection another
 * process minted (421) from one for a connection it no longer holds (404); a connection with
 * nothing to resume ends with its stream.
 */
import { request } from 'node:http';
import { afterEach, expect, test } from 'vitest';
import { MISDIRECTED_STATUS } from '../../src/protocol.js';
import { createTestRouter } from '../helpers/router.js';
import { startNodeServer, type RunningServer } from '../helpers/servers.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function servers(count: number, extra: { graceMs?: number } = {}): Promise<RunningServer[]> {
  const fixture = createTestRouter();
  const started: RunningServer[] = [];
  for (let i = 0; i < count; i++) {
    const server = await startNodeServer(fixture.router, extra);
    cleanup.push(() => server.close());
    started.push(server);
  }
  return started;
}

/** Opens the multiplexed stream; resolves with its hello and a way to leave. */
async function openStream(server: RunningServer, query = '') {
  const leave = new AbortController();
  const response = await fetch(`${server.url}/trpc-sse${query}`, {
    headers: { accept: 'text/event-stream' },
    signal: leave.signal,
  });
  const reader = response.body!.getReader();
  cleanup.push(() => leave.abort());
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('\n\n')) text += decoder.decode((await reader.read()).value, { stream: true });
  const hello = JSON.parse(/data: (.*)/.exec(text)![1]!) as { connectionId: string; secret: string };
  return { hello, leave: () => leave.abort() };
}

/** A control request on its own TCP connection; resolves with the status, the `connection` header and the body. */
function control(server: RunningServer, connectionId: string, secret: string) {
  const body = JSON.stringify({ ops: [{ op: 'subscribe', id: 's1', path: 'idle' }] });
  return new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
    const req = request(
      `${server.url}/trpc-sse`,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'trpc-sse-connection': connectionId,
          'trpc-sse-secret': secret,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('a control request for a connection another process minted: 421, a typed body, and the TCP connection closed', async () => {
  const [a, b] = await servers(2);
  const { hello } = await openStream(a!);
  const answer = await control(b!, hello.connectionId, hello.secret);
  expect(answer.status).toBe(MISDIRECTED_STATUS);
  expect(answer.connection).toBe('close');
  expect(JSON.parse(answer.body)).toMatchObject({ error: { data: { code: 'NOT_FOUND' } } });
  expect(b!.core.stats().controlRequests).toMatchObject({ not_found: 1 });
  // The owner still takes it.
  expect((await control(a!, hello.connectionId, hello.secret)).status).toBe(204);
});

test('a connection this process minted and no longer holds, or an id of no known shape: 404', async () => {
  const [a] = await servers(1, { graceMs: 0 });
  const { hello, leave } = await openStream(a!);
  leave();
  await expect.poll(() => a!.core.connections).toBe(0);
  expect((await control(a!, hello.connectionId, hello.secret)).status).toBe(404);
  expect((await control(a!, 'nobody', 'x')).status).toBe(404);
});

test('a connection with no subscription and nothing to replay ends with its stream; one with a subscription waits graceMs', async () => {
  const [a] = await servers(1, { graceMs: 600_000 });
  const empty = await openStream(a!);
  const subscribe = encodeURIComponent(JSON.stringify([{ op: 'subscribe', id: '1', path: 'idle' }]));
  const busy = await openStream(a!, `?subscribe=${subscribe}`);
  expect(a!.core.connections).toBe(2);
  empty.leave();
  busy.leave();
  await expect.poll(() => a!.core.openStreams).toBe(0);
  await expect.poll(() => a!.core.connections).toBe(1);
  // The one left is the one a resume would bring back something from.
  expect((await control(a!, busy.hello.connectionId, busy.hello.secret)).status).toBe(204);
  expect((await control(a!, empty.hello.connectionId, empty.hello.secret)).status).toBe(404);
});
