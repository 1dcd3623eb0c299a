/**
 * Preloaded into a README block run as a server (`node --import tsx --import <this> block.ts`).
 * The block listens where a reader's would (`listen(3000)`); this moves every TCP listener to
 * an ephemeral loopback port, so runs never collide, and tells the parent over IPC where it
 * went. The process ends with its parent.
 */
import { Server } from 'node:net';

// eslint-disable-next-line @typescript-eslint/unbound-method -- called below with each server as `this`
const listen = Server.prototype.listen;

Server.prototype.listen = function (this: Server, ...args: unknown[]): Server {
  const first = args[0];
  const onTcpPort = typeof first === 'number' || (typeof first === 'object' && first !== null && 'port' in first);
  if (!onTcpPort) return listen.apply(this, args as Parameters<Server['listen']>);
  this.once('listening', () => process.send?.({ listening: this.address() }));
  const last = args.at(-1);
  const callback = typeof last === 'function' ? (last as () => void) : undefined;
  return listen.call(this, { port: 0, host: '127.0.0.1' }, callback);
} as Server['listen'];

process.once('disconnect', () => process.exit(1));
