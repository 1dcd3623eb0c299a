/**
 * The HTTP/2 bench scenario's transports: trpc-sse over node:http2 with TLS (h2 only), read by
 * the client through undici's h2 agent in both modes, and wsLink over wss://. Each delivers a
 * stream whole and in order; the h2 server refuses HTTP/1.1, so a client that got events
 * spoke h2. trpc-sse is loaded from its build (`dist/`), as the bench loads it.
 */
import { connect } from 'node:tls';
import { afterEach, expect, test } from 'vitest';
import { asTick } from '../../bench/procedures/events.js';
import { clientFactory, startServer } from '../../bench/transports/registry.js';
import type { BenchServer, ServerKind, TransportId } from '../../bench/transports/types.js';

const OPTIONS = {
  port: 0,
  counter: { t0: Date.now(), periodMs: 500, generation: 1 },
  maxSubscriptionsPerConnection: 100,
};

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function start(kind: ServerKind): Promise<BenchServer> {
  const server = await startServer(kind, OPTIONS);
  cleanup.push(() => server.close?.());
  return server;
}

/** Subscribes to `stream` and resolves with the seqs received once all came, or it completed or failed. */
async function readStream(id: TransportId, port: number, count: number): Promise<{ seqs: number[]; error: unknown }> {
  const factory = await clientFactory(id, port);
  const client = factory();
  cleanup.push(() => client.close());
  return new Promise((resolve) => {
    const seqs: number[] = [];
    client.subscribe(
      'stream',
      { count },
      {
        onStarted: () => undefined,
        onData: (value) => {
          const tick = asTick(value);
          if (tick) seqs.push(tick.seq);
          if (seqs.length === count) resolve({ seqs, error: null });
        },
        onError: (error) => resolve({ seqs, error }),
        onComplete: () => resolve({ seqs, error: null }),
      },
    );
  });
}

const CASES: Array<[TransportId, ServerKind]> = [
  ['mux-h2', 'trpc-sse-h2'],
  ['distinct-h2', 'trpc-sse-h2'],
  ['ws-tls', 'ws-tls'],
];

test.each(CASES)('%s delivers a whole stream in order over TLS', async (id, kind) => {
  const server = await start(kind);
  const { seqs, error } = await readStream(id, server.port, 50);
  expect(error).toBeNull();
  expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i));
});

test('the h2 server refuses HTTP/1.1, so the h2 clients above spoke HTTP/2', async () => {
  const server = await start('trpc-sse-h2');
  // A client that offers only HTTP/1.1 in ALPN: a server that allowed it would pick it; this
  // one ends the handshake (`no_application_protocol`) or picks none.
  const protocol = await new Promise<string | false>((resolve) => {
    const socket = connect(
      { host: '127.0.0.1', port: server.port, ALPNProtocols: ['http/1.1'], rejectUnauthorized: false },
      () => {
        resolve(socket.alpnProtocol ?? false);
        socket.destroy();
      },
    );
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
  expect(String(protocol)).toMatch(/^(false|ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL)$/);
  // The same question asked for h2 is answered h2: the check above can tell the two apart.
  const h2 = await new Promise<string | false>((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port: server.port, ALPNProtocols: ['h2', 'http/1.1'], rejectUnauthorized: false },
      () => {
        resolve(socket.alpnProtocol ?? false);
        socket.destroy();
      },
    );
    socket.on('error', reject);
  });
  expect(h2).toBe('h2');
});
