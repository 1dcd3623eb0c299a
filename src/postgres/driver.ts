/**
 * What `trpc-sse/postgres` needs from a Postgres driver, as structural types: node-postgres
 * (`pg`) objects fit them as they are, so this entry imports no driver at all and the app
 * passes the `Pool` (and, to publish inside its own transaction, the `PoolClient`) it has.
 *
 * Why `pg` (node-postgres) and not `postgres` (porsager): both pool, LISTEN and type well
 * enough, but what decides here is the app's transaction. `pg` is what most of the ecosystem
 * runs on (Drizzle's node-postgres driver, Kysely's dialect, Knex, TypeORM, Prisma's
 * adapter-pg, Slonik), so the client an app holds inside `BEGIN … COMMIT` is very often a `pg`
 * client, and its API is plain (`query(text, values)`, a dedicated client for `LISTEN` with
 * `notification` events): a structural type covers it, with nothing to load at run time and
 * nothing for CommonJS and ESM builds to disagree on. `postgres`'s transactions are a callback
 * scope (`sql.begin(tx => …)`) and its API a tagged template, which would tie the log to one
 * driver's calling convention. `pg` is also the older and more used of the two (since 2010,
 * several times the downloads). Its one weak point, types from DefinitelyTyped
 * (`@types/pg`), does not reach this entry's declarations.
 */

/** A query's answer: only the rows are read. */
export interface PostgresResult {
  rows: unknown[];
}

/**
 * Anything that runs a parameterized query: a `pg.Pool`, a `pg.Client`, or the `PoolClient`
 * of an open transaction.
 */
export interface PostgresQueryable {
  query(text: string, values?: unknown[]): Promise<PostgresResult>;
}

/** A notification as `pg` reports it. */
export interface PostgresNotification {
  channel: string;
  payload?: string | undefined;
}

/** A connection taken out of the pool for good: the one that LISTENs. */
export interface PostgresPoolClient extends PostgresQueryable {
  on(event: 'notification', listener: (message: PostgresNotification) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  /** Gives the connection back; `true` (or an error) closes it instead. */
  release(destroy?: boolean | Error): void;
}

/** A `pg.Pool`: queries, and a dedicated connection for LISTEN. */
export interface PostgresPool extends PostgresQueryable {
  connect(): Promise<PostgresPoolClient>;
}
