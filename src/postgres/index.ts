/**
 * `trpc-sse/postgres`: the event log and the connection directory on Postgres, for several
 * server processes of an app that runs Postgres and no Redis. Takes a node-postgres (`pg`)
 * pool (an optional peer dependency; nothing of it is imported here).
 * @module
 */
export {
  createPostgresEventLog,
  type PostgresEventLog,
  type PostgresEventLogOptions,
  type PostgresPublishOptions,
} from './postgresEventLog.js';
export {
  createPostgresConnectionDirectory,
  type PostgresConnectionDirectory,
  type PostgresConnectionDirectoryOptions,
} from './postgresConnectionDirectory.js';
export { postgresEventLogSchema, postgresConnectionDirectorySchema } from './schema.js';
export type { PostgresTableOptions } from './tableNames.js';
export type {
  PostgresNotification,
  PostgresPool,
  PostgresPoolClient,
  PostgresQueryable,
  PostgresResult,
} from './driver.js';
