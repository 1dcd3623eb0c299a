import type { PlainResponse } from '../server/request.js';
import type { ConnectionDirectory, ForwardedControl } from '../server/multiplexed/directory.js';
import type { ReplyMessage, RequestHeader } from '../server/multiplexed/directoryMessages.js';
import { unavailable } from '../server/multiplexed/directoryResponses.js';
import { PendingReplies } from '../server/multiplexed/pendingReplies.js';
import { randomToken } from '../shared/randomToken.js';
import type { PostgresPool } from './driver.js';
import { PostgresListener } from './listener.js';
import { applySchema, postgresConnectionDirectorySchema } from './schema.js';
import { channelName, tableName, type PostgresTableOptions } from './tableNames.js';

/** Options of {@link createPostgresConnectionDirectory}. */
export interface PostgresConnectionDirectoryOptions extends PostgresTableOptions {
  /** A `pg.Pool` (node-postgres). The directory keeps one of its connections to LISTEN. */
  pool: PostgresPool;
  /** Create its tables (if missing) on first use; `false`: run {@link postgresConnectionDirectorySchema}'s SQL yourself. @default true */
  createSchema?: boolean;
  /**
   * How long an owner record lives without being renewed, in ms (by the database's clock); a
   * process that dies stops renewing, and its records are ignored after this.
   * @default 30_000
   */
  ttlMs?: number;
  /** How long to wait for the owner's answer before answering 503 (the client retries). @default 5_000 */
  timeoutMs?: number;
}

/** A directory with a way to stop it (renewals, the listening connection). */
export interface PostgresConnectionDirectory extends ConnectionDirectory {
  close(): Promise<void>;
}

/** The secret travels in the notification only, never into the mailbox table. */
type RequestMessage = RequestHeader & Omit<ForwardedControl, 'secret'>;

/** What a notification carries: the mailbox row to take, and a request's secret. */
interface Wakeup {
  m: string;
  s?: string | null;
}

/** Longer than any secret the server issues: forwarded as none, so the owner refuses it. */
const MAX_SECRET_LENGTH = 1_024;

/**
 * A random 62-bit key naming this process: its channel's name, the owner value of its
 * records, and the advisory lock its listening session holds while it lives.
 */
function newProcessKey(): string {
  const [high, low] = globalThis.crypto.getRandomValues(new Uint32Array(2));
  return String((BigInt(high! & 0x3fffffff) << 32n) | BigInt(low!));
}

/**
 * Multiplexed connections across processes on Postgres: each process records the
 * connections it holds (a row with an expiry, renewed while they live) and LISTENs on its own
 * channel; a process that receives a control request for a connection it does not hold puts
 * the request in a mailbox table, wakes the owner with `NOTIFY`, and relays the answer that
 * comes back the same way. Bodies go through the table (a control body may exceed NOTIFY's
 * 8000 bytes); the secret only through the notification, never into a table, and the owner
 * authenticates the request itself.
 *
 * Whether the owner is alive is exact, not a guess from the record's age: its listening
 * session holds an advisory lock named by its key, which Postgres drops with the session, so a
 * request for a connection of a dead process answers 404 at once.
 */
export function createPostgresConnectionDirectory(
  opts: PostgresConnectionDirectoryOptions,
): PostgresConnectionDirectory {
  const { pool } = opts;
  const createSchema = opts.createSchema ?? true;
  const ttlMs = opts.ttlMs ?? 30_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const connections = tableName(opts, 'connections');
  const mailbox = tableName(opts, 'mailbox');
  const processKey = newProcessKey();
  const channelOf = (key: string): string => channelName(opts, `ctl_${key}`);
  const held = new Set<string>();
  const replies = new PendingReplies(timeoutMs);
  let handler: ((request: ForwardedControl) => Promise<PlainResponse>) | undefined;
  let locked = false;
  let closed = false;

  const OWNER_SQL = `
SELECT c.owner::text AS owner, EXISTS (
  SELECT 1 FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid::bigint = (c.owner >> 32) AND l.objid::bigint = (c.owner & 4294967295)
) AS alive
FROM ${connections} c WHERE c.connection_id = $1::text AND c.expires_at > clock_timestamp()`;
  const SEND_SQL = `WITH stored AS (INSERT INTO ${mailbox} (id, payload) VALUES ($1::text, $2::text)) SELECT pg_notify($3::text, $4::text)`;
  const TAKE_SQL = `DELETE FROM ${mailbox} WHERE id = $1::text RETURNING payload`;
  const RECORD_SQL = `
INSERT INTO ${connections} (connection_id, owner, expires_at)
SELECT id, $2::bigint, clock_timestamp() + $3::bigint * interval '1 millisecond' FROM unnest($1::text[]) AS id
ON CONFLICT (connection_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`;

  let ready: Promise<void> | undefined;
  const ensureReady = (): Promise<void> => {
    ready ??= (createSchema ? applySchema(pool, postgresConnectionDirectorySchema(opts)) : Promise.resolve()).catch(
      (cause: unknown) => {
        ready = undefined;
        throw cause;
      },
    );
    return ready;
  };

  const lockSql = `SELECT pg_try_advisory_lock(${processKey}::bigint) AS locked`;
  const listener = new PostgresListener(pool, [channelOf(processKey)], {
    notification: (_channel, payload) => void receive(payload),
    // The lock lives with the listening session: a new session takes it again.
    async listening(client) {
      const { rows } = await client.query(lockSql);
      locked = (rows[0] as { locked: boolean }).locked;
    },
  });

  /** Puts `message` in the mailbox and wakes `key`'s process. */
  async function send(key: string, message: RequestMessage | ReplyMessage, secret?: string | null): Promise<void> {
    const id = randomToken(12);
    const wakeup: Wakeup = secret === undefined ? { m: id } : { m: id, s: secret };
    await pool.query(SEND_SQL, [id, JSON.stringify(message), channelOf(key), JSON.stringify(wakeup)]);
  }

  async function receive(payload: string): Promise<void> {
    let wakeup: Wakeup;
    let message: RequestMessage | ReplyMessage;
    try {
      wakeup = JSON.parse(payload) as Wakeup;
      const { rows } = await pool.query(TAKE_SQL, [wakeup.m]);
      const row = rows[0] as { payload: string } | undefined;
      if (!row) return;
      message = JSON.parse(row.payload) as RequestMessage | ReplyMessage;
    } catch {
      return;
    }
    if (message.kind === 'reply') {
      replies.settle(message.requestId, message.answer);
      return;
    }
    const { requestId, replyTo, connectionId, body } = message;
    const request: ForwardedControl = { connectionId, secret: wakeup.s ?? null, body };
    const answer = await Promise.resolve()
      .then(() => (handler ? handler(request) : unavailable('not ready')))
      .catch(() => unavailable('the owner failed to apply the request'));
    await send(replyTo, { kind: 'reply', requestId, answer }).catch(() => undefined);
  }

  function record(connectionIds: string[]): Promise<unknown> {
    return ensureReady().then(() => pool.query(RECORD_SQL, [connectionIds, processKey, ttlMs]));
  }

  // Owner records expire unless renewed: a crashed process's connections fade out. Messages
  // nobody took (a requester that gave up, a process that died) are swept on the way.
  const renew = setInterval(
    () => {
      if (!locked)
        void listener.query(lockSql).then(
          ({ rows }) => (locked = (rows[0] as { locked: boolean }).locked),
          () => undefined,
        );
      if (held.size > 0) void record([...held]).catch(() => undefined);
      void ensureReady()
        .then(() => pool.query(`DELETE FROM ${connections} WHERE expires_at < clock_timestamp()`))
        .then(() => pool.query(`DELETE FROM ${mailbox} WHERE created_at < clock_timestamp() - interval '1 minute'`))
        .catch(() => undefined);
    },
    Math.max(1_000, Math.floor(ttlMs / 3)),
  );
  renew.unref?.();
  void ensureReady().catch(() => undefined);

  return {
    announce(connectionId) {
      held.add(connectionId);
      return record([connectionId]).then(
        () => undefined,
        () => undefined,
      );
    },
    withdraw(connectionId) {
      held.delete(connectionId);
      void ensureReady()
        .then(() =>
          pool.query(`DELETE FROM ${connections} WHERE connection_id = $1::text AND owner = $2::bigint`, [
            connectionId,
            processKey,
          ]),
        )
        .catch(() => undefined);
    },
    async forward(request) {
      await ensureReady();
      await listener.ready;
      const { rows } = await pool.query(OWNER_SQL, [request.connectionId]);
      const owner = rows[0] as { owner: string; alive: boolean } | undefined;
      // Nobody holds it, we do (and do not know it: a stale record), or its owner is gone.
      if (!owner || owner.owner === processKey || !owner.alive) return null;
      const requestId = randomToken(12);
      const answer = replies.wait(requestId);
      const secret = request.secret !== null && request.secret.length <= MAX_SECRET_LENGTH ? request.secret : null;
      const message: RequestMessage = {
        kind: 'request',
        requestId,
        replyTo: processKey,
        connectionId: request.connectionId,
        body: request.body,
      };
      try {
        await send(owner.owner, message, secret);
      } catch (cause) {
        replies.settle(requestId, unavailable('the request could not be handed to the owner'));
        throw cause;
      }
      return answer;
    },
    serve(serveRequest) {
      handler = serveRequest;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(renew);
      const ids = [...held];
      held.clear();
      if (ids.length > 0) {
        await pool
          .query(`DELETE FROM ${connections} WHERE connection_id = ANY($1::text[]) AND owner = $2::bigint`, [
            ids,
            processKey,
          ])
          .catch(() => undefined);
      }
      listener.close();
    },
  };
}
