/**
 * A round-robin TCP balancer on loopback, as a deployment puts in front of several server
 * processes: each new TCP connection goes to the next upstream in turn, bytes are piped both
 * ways and nothing is parsed. A multiplexed client's stream and its control requests may
 * therefore reach different processes, which the connection directory must sort out.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { HOST } from '../transports/listen.js';

export interface Balancer {
  readonly port: number;
  /** Connections handed to each upstream, in upstream order. */
  readonly handedOut: readonly number[];
  close(): Promise<void>;
}

export async function startBalancer(upstreamPorts: readonly number[]): Promise<Balancer> {
  if (upstreamPorts.length === 0) throw new Error('a balancer needs at least one upstream');
  const open = new Set<Socket>();
  const handedOut = upstreamPorts.map(() => 0);
  let turn = 0;
  const server = createServer((client) => {
    const index = turn++ % upstreamPorts.length;
    handedOut[index]!++;
    const upstream = connect(upstreamPorts[index]!, HOST);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    open.add(client).add(upstream);
    // Either side closing or failing closes both: a half-open pair would hold a stream forever.
    const teardown = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: HOST, backlog: 4096 }, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    handedOut,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        open.clear();
        server.close(() => resolve());
      }),
  };
}
