import type { PostgresPool } from './driver.js';
import { tableName, type PostgresTableOptions } from './tableNames.js';

/**
 * A new epoch, made by Postgres itself so the DDL is plain SQL an app can put in its own
 * migrations: 16 hex digits, within the ids' epoch alphabet.
 */
const NEW_EPOCH = `substr(md5(random()::text || clock_timestamp()::text), 1, 16)`;

/**
 * The event log's tables.
 *
 * - `meta`: one row, the epoch. Ids carry it; wiping the log's tables (TRUNCATE or DROP and
 *   create) loses the row, the next statement writes a new one, and readers reset.
 * - `topics`: one counter per topic, never deleted, so a topic's ids never repeat. Publishing
 *   updates it in the publisher's transaction: publishers of a topic take turns, and sequence
 *   numbers become visible in order with no holes (see postgresEventLog.ts).
 * - `events`: the window of each topic; `at` (ms, the publisher's clock) for trimming by age.
 */
export function postgresEventLogSchema(opts: PostgresTableOptions = {}): string {
  const meta = tableName(opts, 'meta');
  const topics = tableName(opts, 'topics');
  const events = tableName(opts, 'events');
  return `
CREATE TABLE IF NOT EXISTS ${meta} (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  epoch text NOT NULL
);
INSERT INTO ${meta} (id, epoch) VALUES (true, ${NEW_EPOCH}) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS ${topics} (
  topic text PRIMARY KEY,
  last_seq bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS ${events} (
  topic text NOT NULL,
  seq bigint NOT NULL,
  at bigint NOT NULL,
  data text NOT NULL,
  PRIMARY KEY (topic, seq)
);
CREATE INDEX IF NOT EXISTS ${tableName(opts, 'events_by_age')} ON ${events} (topic, at);
`;
}

/**
 * The connection directory's tables, UNLOGGED: what they hold lives for seconds (owner
 * records are renewed, messages are taken at once), so it is kept out of the WAL — out of
 * replicas and backups, and cheap to write. A crash empties them; owners write their records
 * again at the next renewal.
 */
export function postgresConnectionDirectorySchema(opts: PostgresTableOptions = {}): string {
  return `
CREATE UNLOGGED TABLE IF NOT EXISTS ${tableName(opts, 'connections')} (
  connection_id text PRIMARY KEY,
  owner bigint NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE UNLOGGED TABLE IF NOT EXISTS ${tableName(opts, 'mailbox')} (
  id text PRIMARY KEY,
  payload text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
`;
}

/**
 * Runs `ddl` in one transaction under an advisory lock: `CREATE … IF NOT EXISTS` is not safe
 * when two processes start at once (both may try to create the same type and one fails).
 */
export async function applySchema(pool: PostgresPool, ddl: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('trpc-sse schema'))`);
    await client.query(ddl);
    await client.query('COMMIT');
    client.release();
  } catch (cause) {
    // The connection may be in an aborted transaction or broken: close it rather than reuse it.
    client.release(true);
    throw cause;
  }
}
