/**
 * The multi-process bench's loopback balancer: each TCP connection goes to the next upstream
 * in turn, and a pair never outlives either of its sides (a half-open pair would hold an SSE
 * stream, and the figures built on it, forever).
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { startBalancer, type Balancer } from '../../bench/lib/balancer.js';
import { parseBackendList } from '../../bench/lib/backends.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/**
 * An upstream that greets every connection with its name and keeps its sockets. Half-open
 * allowed, as node:http's server does: the client's FIN alone does not close its side.
 */
async function upstream(name: string): Promise<{ port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.write(name);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, sockets };
}

async function balancer(ports: number[]): Promise<Balancer> {
  const b = await startBalancer(ports);
  cleanup.push(() => b.close());
  return b;
}

/** Connects through the balancer; resolves with the socket and the upstream's greeting. */
function dial(port: number): Promise<{ socket: Socket; greeting: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('error', reject);
    socket.once('data', (chunk: Buffer) => resolve({ socket, greeting: chunk.toString() }));
  });
}

const closed = (socket: Socket): Promise<void> =>
  socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));

test('each new connection goes to the next upstream in turn, and the balancer counts them', async () => {
  const a = await upstream('a');
  const b = await upstream('b');
  const lb = await balancer([a.port, b.port]);
  const greetings: string[] = [];
  for (let i = 0; i < 5; i++) {
    const { socket, greeting } = await dial(lb.port);
    greetings.push(greeting);
    socket.destroy();
  }
  expect(greetings).toEqual(['a', 'b', 'a', 'b', 'a']);
  expect(lb.handedOut).toEqual([3, 2]);
});

test('bytes pass both ways unchanged', async () => {
  const echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise<void>((resolve) => echo.close(() => resolve())));
  const lb = await balancer([(echo.address() as AddressInfo).port]);
  const socket = connect(lb.port, '127.0.0.1');
  const payload = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
  const received: Buffer[] = [];
  let length = 0;
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      length += chunk.length;
      if (length >= payload.length) resolve();
    });
    socket.write(payload);
  });
  expect(Buffer.concat(received).equals(payload)).toBe(true);
  socket.destroy();
});

test('a client that goes away frees the upstream, even one that keeps writing to a half-open socket', async () => {
  const up = await upstream('u');
  const lb = await balancer([up.port]);
  const { socket } = await dial(lb.port);
  const upstreamSide = up.sockets[0]!;
  const ended = new Promise<void>((resolve) => upstreamSide.once('end', () => resolve()));
  socket.destroy();
  await ended;
  // As an SSE server does, the upstream goes on writing: its socket closes only if the
  // balancer let go of its own end (a reset answers the writes), not if it kept it half-open.
  const ticking = setInterval(() => upstreamSide.write('tick'), 5);
  try {
    await closed(upstreamSide);
  } finally {
    clearInterval(ticking);
  }
});

test('an upstream that goes away closes the client’s connection', async () => {
  const up = await upstream('u');
  const lb = await balancer([up.port]);
  const { socket } = await dial(lb.port);
  up.sockets[0]!.destroy();
  await closed(socket);
});

test('an upstream that is not listening closes the client’s connection instead of holding it', async () => {
  const gone = createServer();
  await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
  const port = (gone.address() as AddressInfo).port;
  await new Promise<void>((resolve) => gone.close(() => resolve()));
  const lb = await balancer([port]);
  const socket = connect(lb.port, '127.0.0.1');
  socket.on('error', () => undefined);
  await closed(socket);
});

test('bad settings are refused with a message that says what is expected', async () => {
  await expect(startBalancer([])).rejects.toThrow('a balancer needs at least one upstream');
  expect(parseBackendList('redis,postgres')).toEqual(['redis', 'postgres']);
  expect(() => parseBackendList('redis,mongo')).toThrow(
    'unknown backend "mongo" in MP_BACKENDS (known: memory, redis, redis-cluster, postgres)',
  );
});
