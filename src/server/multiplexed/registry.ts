import type { RequestHooks } from '../options.js';
import type { ResolvedServerOptions } from '../resolveOptions.js';
import type { ValueSerializer } from '../serialize.js';
import type { StreamEnvironment } from '../environment.js';
import { MuxConnection, type ConnectionOwner } from './connection.js';
import type { ConnectionDirectory } from './directory.js';
import type { ServerMonitor } from '../observability/monitor.js';
import { randomToken } from '../../shared/randomToken.js';

/**
 * How long a new stream waits for the directory to record its connection before it says
 * hello anyway: a directory that is down must not hold streams (and their subscriptions
 * that rode on the opening request) back; their control requests then reach the owner only
 * if the balancer sends them there.
 */
export const ANNOUNCE_TIMEOUT_MS = 2_000;

/** Separates the minting process's tag from the random part of a connection id. */
const TAG_SEPARATOR = '.';

/** The multiplexed connections of one server, by id. */
export class ConnectionRegistry implements ConnectionOwner {
  readonly options: ResolvedServerOptions;
  readonly monitor: ServerMonitor;
  readonly #env: StreamEnvironment;
  readonly #connections = new Map<string, MuxConnection>();

  readonly #directory: ConnectionDirectory | undefined;
  /**
   * This process's mark on the ids it mints (`{tag}.{random}`), so a control request for an
   * id it does not hold tells an id it never minted (the request reached the wrong process)
   * from one that expired here. Random per registry: a restarted process is another minter.
   */
  readonly #tag = randomToken(6);

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

  /** A new connection id, tagged as minted here (the random part carries the 128 bits). */
  newConnectionId(): string {
    return `${this.#tag}${TAG_SEPARATOR}${randomToken(16)}`;
  }

  /** Whether `id` names a connection another process minted (ids without a tag are not known to be foreign). */
  mintedElsewhere(id: string): boolean {
    const separator = id.indexOf(TAG_SEPARATOR);
    return separator > 0 && id.slice(0, separator) !== this.#tag;
  }

  create(ctx: unknown, hooks: RequestHooks, serializer: ValueSerializer): MuxConnection {
    const connection = new MuxConnection(this, ctx, hooks, serializer);
    this.#connections.set(connection.id, connection);
    return connection;
  }

  /**
   * Records `connection` in the directory, if there is one, and resolves once the record is
   * written (or failed, or {@link ANNOUNCE_TIMEOUT_MS} passed): the stream says hello only
   * then, so a control request that reaches another process right after finds the owner.
   */
  announce(connection: MuxConnection): Promise<void> {
    const directory = this.#directory;
    if (!directory) return Promise.resolve();
    let written: Promise<void>;
    try {
      written = Promise.resolve(directory.announce(connection.id)).catch(() => undefined);
    } catch {
      return Promise.resolve();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ANNOUNCE_TIMEOUT_MS);
    });
    return Promise.race([written, timeout]).finally(() => clearTimeout(timer));
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
