import { tracked, TRPCError, type TrackedEnvelope } from '@trpc/server';
import { formatEventId, parseEventId } from '../log/eventId.js';
import type { PushableGenerator } from '../log/pushSource.js';
import type { ReaderItem } from '../log/readerItem.js';
import { subscribeRemote, type RemoteStore } from '../log/remoteReader.js';
import { TopicWindows } from '../log/topicWindows.js';
import { createCheckpoint, createReset } from '../log/reset.js';
import { SharedValue, withSharedValue } from '../log/sharedValue.js';
import type { EventLog, EventLogSubscribeOptions } from '../log/types.js';
import { randomToken } from '../shared/randomToken.js';
import type { PostgresPool, PostgresQueryable } from './driver.js';
import { PostgresListener } from './listener.js';
import { applySchema, postgresEventLogSchema } from './schema.js';
import { channelName, tableName, type PostgresTableOptions } from './tableNames.js';
import { PostgresTopicWindow } from './topicWindow.js';

/** Options of {@link createPostgresEventLog}. */
export interface PostgresEventLogOptions extends PostgresTableOptions {
  /**
   * A `pg.Pool` (node-postgres). The log keeps one of its connections for `LISTEN` and runs
   * everything else through it.
   */
  pool: PostgresPool;
  /**
   * Create the tables (if missing) on first use, in a transaction under an advisory lock.
   * `false` when the app's role may not create tables: run {@link postgresEventLogSchema}'s SQL in a
   * migration instead.
   * @default true
   */
  createSchema?: boolean;
  /** Events kept per topic; older ones are deleted when the topic is published to. @default 1_000 */
  maxEvents?: number;
  /**
   * Age after which events are deleted (when the topic is next published to), in ms, by the
   * publishing process's clock. `0`: no age bound.
   * @default 300_000 (5 minutes)
   */
  maxAgeMs?: number;
  /** Events of a topic kept in this process for fan-out; readers further behind read the table. @default min(maxEvents, 1_000) */
  localWindow?: number;
  /**
   * How often each process checks, with one query on its listening connection, that it missed
   * no wake-up, that the connection is alive and that the log's epoch has not changed (tables
   * wiped or rewound), in ms.
   * @default 5_000
   */
  pollIntervalMs?: number;
  /** How data is stored (a `text` column). @default JSON */
  serializer?: { serialize(value: unknown): string; deserialize(text: string): unknown };
}

/** Options of {@link PostgresEventLog.publish}. */
export interface PostgresPublishOptions {
  /**
   * The app's own transaction (the `pg` client it ran `BEGIN` on): the event is written in it,
   * exists if and only if it commits, and reaches readers after the commit. The id resolved
   * is only ever seen by readers if the transaction commits. Until then, other publishers to
   * the same topic wait for it: publish late in the transaction. Errors are the driver's own
   * (so the app's retry of serialization failures still sees `40001`).
   */
  tx?: PostgresQueryable;
}

/** The Postgres event log: an {@link EventLog} whose `publish` can join the app's transaction. */
export interface PostgresEventLog extends EventLog {
  publish<T>(topic: string, data: T, options?: PostgresPublishOptions): Promise<string>;
}

interface HeadRow {
  epoch: string;
  last_seq: string | number;
  first_seq: string | number | null;
}

interface ReadRow {
  epoch: string;
  seq: string | number | null;
  data: string | null;
}

interface PollRow {
  epoch: string;
  topic: string | null;
  last_seq: string | number | null;
}

/** Rows a process reads per query when it catches up a topic. */
const REFRESH_BATCH = 1_000;
/** Rows a reader behind the window reads per query. */
const BEHIND_BATCH = 100;
/** NOTIFY payloads are limited to 8000 bytes; a longer topic name wakes every topic instead. */
const MAX_PAYLOAD_BYTES = 4_000;

const newEpoch = (): string => randomToken(9).replace(/-/g, '_');
const utf8 = new TextEncoder();

/** `42P01`: a table is missing (dropped while the log runs). */
function isMissingTable(cause: unknown): boolean {
  return typeof cause === 'object' && cause !== null && (cause as { code?: unknown }).code === '42P01';
}

/**
 * The event log on Postgres, for apps that run Postgres and no Redis: events in a table, ids
 * `{epoch}-{seq}`, `LISTEN/NOTIFY` only as a wake-up.
 *
 * Ordering. A publish increments the topic's counter row and inserts the event in the same
 * statement, in the publisher's transaction. The row lock it takes makes the next publisher
 * of the topic wait until this transaction ends, so sequence numbers are given out in commit
 * order, with no holes (a rollback gives its number back). A reader that has seen `n`
 * therefore never sees `n - 1` commit later, which a sequence or `bigserial` would allow
 * (numbers are taken at insert, transactions commit in any order). The cost: publishers of
 * one topic take turns for the length of their transactions; different topics do not wait.
 *
 * Wake-ups. A publish sends `NOTIFY` with the topic's name only (payloads are limited, and
 * every notifying commit takes a database-wide lock, so less is better). Each process LISTENs
 * on one connection and, per topic it serves, reads what is new from the table once and fans
 * it out to its readers from a local window, as the Redis log does; a reader behind the
 * window reads the table itself. A lost connection is replaced and every topic re-read.
 *
 * Epoch. The `meta` table's one row. Wiping the tables writes a new one; a process that sees
 * a topic's counter go backwards (a restore, a truncated counter table) replaces it. Readers
 * then reset.
 */
export function createPostgresEventLog(opts: PostgresEventLogOptions): PostgresEventLog {
  const { pool } = opts;
  const tables: PostgresTableOptions = opts;
  const meta = tableName(tables, 'meta');
  const topicsTable = tableName(tables, 'topics');
  const events = tableName(tables, 'events');
  const channel = channelName(tables, 'wake');
  const createSchema = opts.createSchema ?? true;
  const maxEvents = Math.max(1, opts.maxEvents ?? 1_000);
  const maxAgeMs = opts.maxAgeMs ?? 300_000;
  const localWindow = Math.max(1, opts.localWindow ?? Math.min(maxEvents, 1_000));
  const pollIntervalMs = opts.pollIntervalMs ?? 5_000;
  const serializer = opts.serializer ?? {
    serialize: (value: unknown) => JSON.stringify(value) ?? 'null',
    deserialize: JSON.parse,
  };

  /**
   * One statement: the counter, the event, trimming (by count, and by age as a prefix, so the
   * window never has holes) and the wake-up. It also writes the epoch row when the tables were
   * wiped, and answers with the epoch the event belongs to.
   */
  const PUBLISH_SQL = `
WITH epoch_row AS (
  INSERT INTO ${meta} (id, epoch) VALUES (true, $8::text) ON CONFLICT (id) DO NOTHING RETURNING epoch
), next AS (
  INSERT INTO ${topicsTable} AS t (topic, last_seq) VALUES ($1::text, 1)
  ON CONFLICT (topic) DO UPDATE SET last_seq = t.last_seq + 1
  RETURNING last_seq
), added AS (
  INSERT INTO ${events} (topic, seq, at, data) SELECT $1::text, last_seq, $2::bigint, $3::text FROM next RETURNING seq
), trimmed AS (
  DELETE FROM ${events} WHERE topic = $1 AND seq <= (
    SELECT greatest(next.last_seq - $4::bigint, coalesce((SELECT max(seq) FROM ${events} WHERE topic = $1 AND at < $5::bigint), 0)) FROM next
  )
)
SELECT (SELECT seq FROM added) AS seq, coalesce((SELECT epoch FROM epoch_row), (SELECT epoch FROM ${meta})) AS epoch, pg_notify($6::text, $7::text)`;
  const HEAD_SQL = `
SELECT m.epoch, coalesce(t.last_seq, 0) AS last_seq, (SELECT min(e.seq) FROM ${events} e WHERE e.topic = $1::text) AS first_seq
FROM ${meta} m LEFT JOIN ${topicsTable} t ON t.topic = $1`;
  const READ_SQL = `
SELECT m.epoch, e.seq, e.data
FROM ${meta} m LEFT JOIN LATERAL (
  SELECT seq, data FROM ${events} WHERE topic = $1::text AND seq > $2::bigint AND seq <= $3::bigint ORDER BY seq LIMIT $4::bigint
) e ON true
ORDER BY e.seq`;
  const POLL_SQL = `SELECT m.epoch, t.topic, t.last_seq FROM ${meta} m LEFT JOIN ${topicsTable} t ON t.topic = ANY($1::text[])`;
  const EPOCH_SQL = `
WITH added AS (INSERT INTO ${meta} (id, epoch) VALUES (true, $1::text) ON CONFLICT (id) DO NOTHING RETURNING epoch)
SELECT coalesce((SELECT epoch FROM added), (SELECT epoch FROM ${meta})) AS epoch`;
  const REPLACE_EPOCH_SQL = `UPDATE ${meta} SET epoch = $2 WHERE epoch = $1`;

  const topics = new TopicWindows<PostgresTopicWindow>();
  let epoch = '';
  /** Bumped when the log's epoch changes under us: readers reset and start the new life from 0. */
  let epochGeneration = 0;
  let closed = false;

  let ready: Promise<void> | undefined;
  /** The tables exist and the epoch is known; retried after a failure. */
  function ensureReady(): Promise<void> {
    ready ??= (async () => {
      if (createSchema) await applySchema(pool, postgresEventLogSchema(tables));
      await syncEpoch();
    })().catch((cause: unknown) => {
      ready = undefined;
      throw cause;
    });
    return ready;
  }

  /** Tables dropped while running: create them again (a new epoch) before the next statement. */
  function recover(cause: unknown): void {
    if (createSchema && isMissingTable(cause)) {
      ready = undefined;
      void ensureReady().catch(() => undefined);
    }
  }

  /**
   * The epoch row as `queryable` sees it now; `null` if it cannot say. A statement that wrote
   * the row "if missing" (EPOCH_SQL, PUBLISH_SQL) answers no epoch when another process wrote
   * it while the statement ran: its insert met the row, and its snapshot, older than the row,
   * could not read it. A new statement can.
   */
  async function readEpoch(queryable: PostgresQueryable): Promise<string | null> {
    try {
      const { rows } = await queryable.query(`SELECT epoch FROM ${meta}`);
      return (rows[0] as { epoch: string } | undefined)?.epoch ?? null;
    } catch {
      return null;
    }
  }

  let syncing: Promise<void> | undefined;
  /**
   * Reads the epoch (writing one if the tables were wiped) and adopts it. A query that saw
   * another epoch than ours calls this rather than adopting what it saw, which may be stale.
   */
  function syncEpoch(): Promise<void> {
    syncing ??= (async () => {
      const { rows } = await pool.query(EPOCH_SQL, [newEpoch()]);
      const found = (rows[0] as { epoch: string | null } | undefined)?.epoch ?? (await readEpoch(pool));
      if (found === null) throw new Error('The event log’s epoch row could not be read');
      adoptEpoch(found);
    })().finally(() => {
      syncing = undefined;
    });
    return syncing;
  }

  function adoptEpoch(next: string): void {
    if (next === epoch) return;
    const first = epoch === '';
    epoch = next;
    if (first) return;
    epochGeneration++;
    for (const topic of topics.values()) {
      topic.restartAt(0);
      topic.subscribers.announce();
      void refresh(topic);
    }
  }

  const eventId = (seq: number): string => formatEventId(epoch, seq);

  const listener = new PostgresListener(pool, [channel], {
    notification(_channel, payload) {
      if (payload === '') for (const topic of topics.values()) void refresh(topic);
      else {
        const topic = topics.get(payload);
        if (topic) void refresh(topic);
      }
    },
    // Wake-ups sent while nobody listened are lost: every topic reads the table again.
    listening() {
      for (const topic of topics.values()) void refresh(topic);
    },
  });

  const poll = setInterval(() => void pollOnce(), pollIntervalMs);
  poll.unref?.();
  let polling = false;

  async function pollOnce(): Promise<void> {
    if (polling || closed || topics.size === 0) return;
    polling = true;
    try {
      const generation = epochGeneration;
      // Positions before the query: its snapshot is later, so a counter below one went backwards.
      const before = new Map([...topics.entries()].map(([name, topic]) => [name, topic.readerAt]));
      const { rows } = await listener.query(POLL_SQL, [[...before.keys()]]);
      const first = rows[0] as PollRow | undefined;
      if (first?.epoch !== epoch || generation !== epochGeneration) {
        await syncEpoch();
        return;
      }
      const counters = new Map(
        (rows as PollRow[]).filter((row) => row.topic !== null).map((row) => [row.topic!, Number(row.last_seq)]),
      );
      for (const [name, readerAt] of before) {
        const lastSeq = counters.get(name) ?? 0;
        if (lastSeq < readerAt) {
          // The log cannot prove its history continuous: a new epoch, and every reader resets.
          await pool.query(REPLACE_EPOCH_SQL, [epoch, newEpoch()]);
          await syncEpoch();
          return;
        }
        const topic = topics.get(name);
        if (topic && lastSeq > topic.readerAt) void refresh(topic);
      }
    } catch (cause) {
      recover(cause);
    } finally {
      polling = false;
    }
  }

  /** The topic's head and oldest held event, in the current epoch. */
  async function readHead(name: string): Promise<{ lastSeq: number; firstSeq: number | null }> {
    for (let attempt = 0; ; attempt++) {
      const { rows } = await pool.query(HEAD_SQL, [name]);
      const row = rows[0] as HeadRow | undefined;
      if (row?.epoch === epoch) {
        return { lastSeq: Number(row.last_seq), firstSeq: row.first_seq === null ? null : Number(row.first_seq) };
      }
      // Tables wiped, or the epoch replaced: adopt the new one and read again.
      if (attempt >= 3) throw new Error('The event log’s epoch keeps changing');
      await syncEpoch();
    }
  }

  /** Adds the event after the window's last one, parsed once for every local reader. */
  function appendEvent(topic: PostgresTopicWindow, seq: number, text: string): void {
    const value: unknown = serializer.deserialize(text);
    const id = eventId(seq);
    topic.append({
      position: seq,
      envelope: withSharedValue<TrackedEnvelope<unknown>>(tracked(id, value), new SharedValue(id, value)),
    });
  }

  /** Reads what is new in `topic` from the table into its window (one query at a time per topic). */
  async function refresh(topic: PostgresTopicWindow): Promise<void> {
    if (topic.refreshing) {
      topic.again = true;
      return;
    }
    topic.refreshing = true;
    try {
      do {
        topic.again = false;
        if (closed || topics.get(topic.name) !== topic) return;
        const generation = epochGeneration;
        const { rows } = await pool.query(READ_SQL, [
          topic.name,
          topic.readerAt,
          Number.MAX_SAFE_INTEGER,
          REFRESH_BATCH,
        ]);
        if (generation !== epochGeneration) {
          topic.again = true;
          continue;
        }
        const first = rows[0] as ReadRow | undefined;
        if (first?.epoch !== epoch) {
          await syncEpoch();
          topic.again = true;
          continue;
        }
        let appended = false;
        for (const row of rows as ReadRow[]) {
          if (row.seq === null || row.data === null) break;
          const seq = Number(row.seq);
          // Appended already by this process's own publish.
          if (seq <= topic.readerAt) continue;
          // Trimmed before this process read them: readers that needed them read the table and reset.
          if (seq !== topic.readerAt + 1) topic.restartAt(seq - 1);
          appendEvent(topic, seq, row.data);
          appended = true;
        }
        if (appended) topic.subscribers.announce();
        if (rows.length >= REFRESH_BATCH) topic.again = true;
      } while (topic.again);
    } catch (cause) {
      recover(cause);
      // Postgres away: try again shortly (the poll and a new listening connection also do).
      setTimeout(() => void refresh(topic), 500).unref?.();
    } finally {
      topic.refreshing = false;
    }
  }

  function acquire(name: string): Promise<PostgresTopicWindow> {
    return topics.acquire(
      name,
      async () => new PostgresTopicWindow(name, (await readHead(name)).lastSeq, localWindow),
      // Commits between the head and the topic's registration woke nobody here (nor, until
      // the listening connection is up, commits after it: it re-reads every topic then).
      refresh,
    );
  }

  function release(topic: PostgresTopicWindow): void {
    topics.release(topic.name, topic);
  }

  /**
   * A reader's start: where it stands, and what it gets first — a checkpoint when it starts
   * from now, a reset when `lastEventId` cannot be resumed from.
   */
  async function openAt(
    topic: PostgresTopicWindow,
    lastEventId: string | null | undefined,
  ): Promise<{ cursor: number; first: ReaderItem | undefined }> {
    if (lastEventId === undefined || lastEventId === null || lastEventId === '') {
      return { cursor: topic.readerAt, first: createCheckpoint(eventId(topic.readerAt)) };
    }
    const parsed = parseEventId(lastEventId);
    const head = await readHead(topic.name);
    const reset = (reason: 'unknown' | 'epoch' | 'trimmed') => ({
      cursor: head.lastSeq,
      first: createReset(reason, eventId(head.lastSeq)),
    });
    if (!parsed) return reset('unknown');
    if (parsed.epoch !== epoch) return reset('epoch');
    if (parsed.seq > head.lastSeq) return reset('unknown');
    if (parsed.seq < (head.firstSeq ?? head.lastSeq + 1) - 1) return reset('trimmed');
    return { cursor: parsed.seq, first: undefined };
  }

  /**
   * The next events for a reader behind this process's window, from the table: up to 100, or
   * a reset when some were trimmed. Returns the reader's new position.
   */
  async function readBehindTable(
    topic: PostgresTopicWindow,
    cursor: number,
  ): Promise<{ cursor: number; items: ReaderItem[] }> {
    const { rows } = await pool.query(READ_SQL, [topic.name, cursor, topic.contiguousAfter, BEHIND_BATCH]);
    const first = rows[0] as ReadRow | undefined;
    if (first?.epoch !== epoch) {
      await syncEpoch();
      return { cursor, items: [] };
    }
    const items: ReaderItem[] = [];
    for (const row of rows as ReadRow[]) {
      const seq = row.seq === null ? null : Number(row.seq);
      if (seq !== cursor + 1 || row.data === null) {
        // A hole where the next event should be: it was trimmed away.
        const head = await readHead(topic.name);
        return { cursor: head.lastSeq, items: [...items, createReset('trimmed', eventId(head.lastSeq))] };
      }
      cursor = seq;
      items.push(tracked(eventId(seq), serializer.deserialize(row.data)));
    }
    return { cursor, items };
  }

  const store: RemoteStore<number, PostgresTopicWindow> = {
    get closed() {
      return closed;
    },
    get generation() {
      return epochGeneration;
    },
    ready: ensureReady,
    acquire,
    release,
    async open(topic, lastEventId) {
      return { ...(await openAt(topic, lastEventId)), generation: epochGeneration };
    },
    async readBehind(topic, cursor) {
      const generation = epochGeneration;
      const behind = await readBehindTable(topic, cursor);
      // The epoch changed meanwhile: what was read belongs to the old one, and the reader resets.
      return generation === epochGeneration ? behind : { cursor, items: [] };
    },
    restart: () => ({ cursor: 0, reset: createReset('epoch', eventId(0)) }),
  };

  async function append(name: string, data: unknown, tx: PostgresQueryable | undefined): Promise<string> {
    // A reader of this process that started "from now" before this publish has its position
    // read first, so the event comes after it (as with the memory log), not before.
    await topics.opening(name)?.catch(() => undefined);
    const now = Date.now();
    const payload = utf8.encode(name).length <= MAX_PAYLOAD_BYTES ? name : '';
    const text = serializer.serialize(data);
    const values = [name, now, text, maxEvents, maxAgeMs > 0 ? now - maxAgeMs : null, channel, payload, newEpoch()];
    const { rows } = await (tx ?? pool).query(PUBLISH_SQL, values);
    const row = rows[0] as { seq: string | number; epoch: string | null };
    const seq = Number(row.seq);
    // No epoch (see readEpoch): the event belongs to the epoch another process wrote; read on
    // the same connection (the app's transaction, if it is one). The event is committed
    // regardless, so a failed read falls back to the epoch known.
    const eventEpoch = row.epoch ?? (await readEpoch(tx ?? pool)) ?? epoch;
    // A transaction's event is only true once it commits: it arrives with the wake-up.
    if (tx) return formatEventId(eventEpoch, seq);
    if (eventEpoch !== epoch) void syncEpoch().catch(() => undefined);
    else {
      // Committed: this process's readers get it now, without waiting for the wake-up's round
      // trip, when it follows what the window holds (else the wake-up's read fills the gap).
      const topic = topics.get(name);
      if (topic && seq === topic.readerAt + 1) {
        appendEvent(topic, seq, text);
        topic.subscribers.announce();
      }
    }
    return formatEventId(eventEpoch, seq);
  }

  void ensureReady().catch(() => undefined);

  const log = {
    get epoch() {
      return epoch;
    },

    async publish<T>(name: string, data: T, options: PostgresPublishOptions = {}): Promise<string> {
      if (closed) throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'The event log is closed' });
      const { tx } = options;
      if (tx) {
        await ensureReady();
        return append(name, data, tx);
      }
      try {
        await ensureReady();
        try {
          return await append(name, data, undefined);
        } catch (cause) {
          // The tables were dropped under us: create them again (a new epoch) and publish once more.
          if (!createSchema || !isMissingTable(cause)) throw cause;
          ready = undefined;
          await ensureReady();
          return await append(name, data, undefined);
        }
      } catch (cause) {
        throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'Postgres did not take the event', cause });
      }
    },

    subscribe(name: string, options: EventLogSubscribeOptions = {}): PushableGenerator<ReaderItem> {
      return subscribeRemote(store, name, options);
    },

    async close(): Promise<void> {
      closed = true;
      clearInterval(poll);
      listener.close();
      topics.closeAll();
    },
  };
  // Resets and checkpoints are for the transport, never the app's data: the public type
  // shows what reaches the client.
  return log as unknown as PostgresEventLog;
}
