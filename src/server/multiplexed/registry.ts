import type { RequestHooks } from '../options.js';
import type { ResolvedServerOptions } from '../resolveOptions.js';
import type { ValueSerializer } from '../serialize.js';
import type { StreamEnvironment } from '../environment.js';
import { MuxConnection, type ConnectionOwner } from './connection.js';
import type { ConnectionDirectory } from './directory.js';
import type { ServerMonitor } from '../observability/monitor.js';

/** The multiplexed connections of one server, by id. */
export class ConnectionRegistry implements ConnectionOwner {
  readonly options: ResolvedServerOptions;
  readonly monitor: ServerMonitor;
  readonly #env: StreamEnvironment;
  readonly #connections = new Map<string, MuxConnection>();

  readonly #directory: ConnectionDirectory | undefined;

  constructor(env: StreamEnvironment, directory: ConnectionDirectory | undefined) {
    this.#env = env;
    this.options = env.options;
    this.monitor = env.monitor;
    this.#directory = directory;
  }

  get size(): number {
    return this.#connections.size;
  }

  get(id: string | null): MuxConnection | undefined {
    return id === null ? undefined : this.#connections.get(id);
  }

  create(ctx: unknown, hooks: RequestHooks, serializer: ValueSerializer): MuxConnection {
    const connection = new MuxConnection(this, ctx, hooks, serializer);
    this.#connections.set(connection.id, connection);
    this.#directory?.announce(connection.id);
    return connection;
  }

  all(): MuxConnection[] {
    return [...this.#connections.values()];
  }

  closed(connection: MuxConnection): void {
    this.#connections.delete(connection.id);
    this.#directory?.withdraw(connection.id);
  }

  attached(connection: MuxConnection): void {
    this.#env.heartbeat.add(connection);
  }

  detached(connection: MuxConnection): void {
    this.#env.heartbeat.delete(connection);
  }
}
