/**
 * `createServer(createSSEHandler(…))` ignores the handler's promise, so a rejection would be
 * unhandled and, on Node's default, end the process. A request the handler fails to serve is
 * answered with a 500 (or cut, once its headers went out) and logged; the promise resolves.
 * The failures are injected into the handler's core, where no request can cause them.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test, vi } from 'vitest';
import { createSSEHandler } from '../../src/adapters/node.js';
import { createTestRouter } from '../helpers/router.js';

let server: Server | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: -1, body }));
    });
    req.on('error', () => resolve({ status: -1, body: '' }));
    req.end();
  });
}

async function serve(
  break_: (core: Record<string, unknown>) => void,
): Promise<{ port: number; outcomes: Array<Promise<string>> }> {
  const { router } = createTestRouter();
  const handler = createSSEHandler({
    router,
    basePath: '/trpc',
    createContext: () => ({ user: null, connectionParams: null }),
  });
  break_(handler.core as unknown as Record<string, unknown>);
  const outcomes: Array<Promise<string>> = [];
  server = createServer((req, res) => {
    outcomes.push(
      handler(req, res).then(
        () => 'resolved',
        (error: unknown) => `rejected: ${String(error)}`,
      ),
    );
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, outcomes };
}

const STREAM = '/trpc/counter?input=' + encodeURIComponent(JSON.stringify({ count: 1 }));

test('a failure before anything was sent: a 500, logged, and the promise resolves', async () => {
  const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const { port, outcomes } = await serve((core) => {
    core['classify'] = () => {
      throw new Error('classify broke');
    };
  });
  expect(await get(port, STREAM)).toEqual({ status: 500, body: 'Internal Server Error' });
  expect(await Promise.all(outcomes)).toEqual(['resolved']);
  expect(logged).toHaveBeenCalledWith(
    'trpc-sse: a request failed',
    expect.objectContaining({ message: 'classify broke' }),
  );
});

test('a failure after the headers went out: the response is cut, logged, and the promise resolves', async () => {
  const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const { port, outcomes } = await serve((core) => {
    core['serveStream'] = (
      _req: unknown,
      sink: { start(status: number, headers: Record<string, string>): void; write(chunk: string): boolean },
    ) => {
      sink.start(200, { 'content-type': 'text/event-stream' });
      sink.write(': started\n\n');
      return Promise.reject(new Error('stream broke'));
    };
  });
  const response = await get(port, STREAM);
  expect(await Promise.all(outcomes)).toEqual(['resolved']);
  // The client saw the start, then the connection was cut (no clean end of a 200).
  expect([-1, 200]).toContain(response.status);
  expect(response.body).toBe(': started\n\n');
  expect(logged).toHaveBeenCalledWith(
    'trpc-sse: a request failed',
    expect.objectContaining({ message: 'stream broke' }),
  );
});
