import type { PostgresPool, PostgresPoolClient, PostgresResult } from './driver.js';
import { quoteIdentifier } from './tableNames.js';

export interface ListenerHandlers {
  /** A notification on one of the channels. */
  notification(channel: string, payload: string): void;
  /**
   * The channels are listened to (first time, or again after the connection was lost).
   * Notifications sent while nobody listened are gone: whoever relies on them catches up here.
   */
  listening(client: PostgresPoolClient): void | Promise<void>;
}

/**
 * One connection, taken from the pool for good, that LISTENs on a few channels, and takes a
 * new one when it breaks (ioredis reconnects by itself; a `pg` client does not).
 */
export class PostgresListener {
  readonly #pool: PostgresPool;
  readonly #channels: readonly string[];
  readonly #handlers: ListenerHandlers;
  #client: PostgresPoolClient | undefined;
  #closed = false;
  #markListening: () => void = () => undefined;
  /** Resolves once the channels are first listened to. */
  readonly ready: Promise<void>;

  constructor(pool: PostgresPool, channels: readonly string[], handlers: ListenerHandlers) {
    this.#pool = pool;
    this.#channels = channels;
    this.#handlers = handlers;
    this.ready = new Promise((resolve) => {
      this.#markListening = resolve;
    });
    for (const channel of channels) quoteIdentifier(channel);
    void this.#run();
  }

  /** Runs a query on the listening connection (which also proves it alive); fails while it is being replaced. */
  query(text: string, values?: unknown[]): Promise<PostgresResult> {
    const client = this.#client;
    if (!client) return Promise.reject(new Error('The listening connection is being replaced'));
    return client.query(text, values).catch((cause: unknown) => {
      this.#drop(client, cause);
      throw cause;
    });
  }

  close(): void {
    this.#closed = true;
    if (this.#client) this.#drop(this.#client, undefined);
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      let client: PostgresPoolClient | undefined;
      try {
        client = await this.#pool.connect();
        const lost = new Promise<void>((resolve) => {
          client!.on('error', () => resolve());
          client!.on('end', () => resolve());
        });
        client.on('notification', (message) => this.#handlers.notification(message.channel, message.payload ?? ''));
        for (const channel of this.#channels) await client.query(`LISTEN ${quoteIdentifier(channel)}`);
        if (this.#closed) {
          client.release(true);
          return;
        }
        this.#client = client;
        failures = 0;
        await this.#handlers.listening(client);
        this.#markListening();
        await lost;
      } catch {
        // The database is away or refused us: back off and try again, as long as we are open.
      }
      if (client) this.#drop(client, undefined);
      if (this.#closed) return;
      failures++;
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 50 * 2 ** Math.min(failures, 6))).unref?.());
    }
  }

  #drop(client: PostgresPoolClient, cause: unknown): void {
    if (this.#client === client) this.#client = undefined;
    try {
      // Closed, not returned: a connection that listened must not go back to the app's pool.
      client.release(cause instanceof Error ? cause : true);
    } catch {
      // Released already (the driver refuses a second release): nothing to undo.
    }
  }
}
