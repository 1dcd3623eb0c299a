/** Where the log and the directory keep their tables: an optional schema and a name prefix. */
export interface PostgresTableOptions {
  /** The schema of the tables. @default the connection's `search_path` (usually `public`) */
  schema?: string;
  /** Prefix of every table (and notification channel) name. @default 'trpc_sse_' */
  tablePrefix?: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Postgres truncates longer identifiers (NAMEDATALEN - 1), which would merge distinct names. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * Names are checked, then quoted: they come from options, not from users, but a name that
 * would need escaping (or be truncated) is a mistake better refused when the log is made.
 */
export function quoteIdentifier(name: string): string {
  if (!IDENTIFIER.test(name) || name.length > MAX_IDENTIFIER_BYTES) {
    throw new TypeError(
      `Not a usable Postgres identifier: ${JSON.stringify(name)} (letters, digits and _, at most 63)`,
    );
  }
  return `"${name}"`;
}

/** A table's qualified, quoted name. */
export function tableName(opts: PostgresTableOptions, table: string): string {
  const prefix = opts.tablePrefix ?? 'trpc_sse_';
  const name = quoteIdentifier(`${prefix}${table}`);
  return opts.schema === undefined ? name : `${quoteIdentifier(opts.schema)}.${name}`;
}

/**
 * A notification channel's name: per schema and prefix, so two logs in one database never
 * wake each other. Used both as `LISTEN "name"` and as `pg_notify('name', …)`.
 */
export function channelName(opts: PostgresTableOptions, channel: string): string {
  const prefix = opts.tablePrefix ?? 'trpc_sse_';
  const name = opts.schema === undefined ? `${prefix}${channel}` : `${opts.schema}_${prefix}${channel}`;
  quoteIdentifier(name);
  return name;
}
