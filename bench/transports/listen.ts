import type { Server } from 'node:http';

export const HOST = '127.0.0.1';

/** Listens on loopback; a restarted server may find its port still held for a moment, so retry briefly. */
export async function listen(server: Server, port: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host: HOST, backlog: 4096 }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}
