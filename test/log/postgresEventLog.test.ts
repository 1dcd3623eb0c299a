/**
 * The Postgres log against a real PostgreSQL: the shared contract (pulled and pushed),
 * publishing inside the app's transactions (rolled back, committed, committed out of order),
 * and the epoch when the tables are wiped or rewound.
 */
import { isTrackedEnvelope } from '@trpc/server';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import {
  createPostgresEventLog,
  type PostgresEventLog,
  type PostgresEventLogOptions,
} from '../../src/postgres/postgresEventLog.js';
import { PUSH_SOURCE, pushSourceOf, type PushHandle, type PushSink } from '../../src/log/pushSource.js';
import { isCheckpoint, isReset } from '../../src/log/reset.js';
import { TopicSubscribers } from '../../src/log/topicSubscribers.js';
import { startPostgresServer, type PostgresServer } from '../helpers/postgresServer.js';
import { eventLogContract } from './eventLogContract.js';

let server: PostgresServer;
let pool: pg.Pool;
let prefixes = 0;

beforeAll(async () => {
  server = await startPostgresServer();
  pool = new pg.Pool({ connectionString: server.url, max: 30 });
  // A dropped idle connection is the pool's to replace; the tests watch what the logs do.
  pool.on('error', () => undefined);
}, 120_000);
// The server first: a connection a failed test left checked out would hold `pool.end()` up.
afterAll(async () => {
  await server?.stop();
  await pool?.end();
});

/** A log on its own tables (so its own epoch), as another app or a wiped database would have. */
function createLog(opts: Partial<PostgresEventLogOptions> = {}): PostgresEventLog {
  return createPostgresEventLog({ pool, tablePrefix: `test${++prefixes}_`, ...opts });
}

for (const consume of ['pull', 'push'] as const) {
  eventLogContract(
    {
      name: 'postgres',
      create: async (opts) =>
        createLog({
          ...(opts.maxEvents === undefined ? {} : { maxEvents: opts.maxEvents }),
          ...(opts.maxAgeMs === undefined ? {} : { maxAgeMs: opts.maxAgeMs }),
        }),
    },
    consume,
  );
}

/** Reads a subscription's values one by one, skipping checkpoints (positions, not events). */
function reader(log: PostgresEventLog, topic: string, lastEventId?: string) {
  const abort = new AbortController();
  const iterator = log.subscribe<unknown>(topic, { lastEventId, signal: abort.signal });
  return {
    async next(): Promise<unknown> {
      for (;;) {
        const { value } = await iterator.next();
        if (!isCheckpoint(value)) return value;
      }
    },
    /** Its first item, the checkpoint: the reader is in place and reads live events. */
    async started(): Promise<void> {
      expect(isCheckpoint((await iterator.next()).value)).toBe(true);
    },
    stop: () => abort.abort(),
  };
}

/** `[id, data]` of a tracked event (its envelope may carry more for the server). */
function event(value: unknown): [string, unknown] {
  if (!isTrackedEnvelope(value)) throw new Error(`not an event: ${JSON.stringify(value)}`);
  return [String(value[0]), value[1]];
}

/** The app's own transaction, on a connection of its own. */
async function transaction(): Promise<{ client: pg.PoolClient; commit(): Promise<void>; rollback(): Promise<void> }> {
  const client = await pool.connect();
  await client.query('BEGIN');
  const end = async (command: string): Promise<void> => {
    try {
      await client.query(command);
    } finally {
      client.release();
    }
  };
  return { client, commit: () => end('COMMIT'), rollback: () => end('ROLLBACK') };
}

/** Backends waiting for a lock: a publisher waiting for another's transaction to end. */
async function waitingForLocks(): Promise<number> {
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`);
  return (rows[0] as { n: number }).n;
}

describe('publishing inside the app’s transaction', () => {
  test('a rolled-back publish is never delivered, a committed one is, and the rolled-back id is not a hole', async () => {
    const log = createLog();
    const live = reader(log, 'orders');
    await live.started();
    const rolledBack = await transaction();
    const lostId = await log.publish('orders', 'never', { tx: rolledBack.client });
    await rolledBack.rollback();
    const committed = await transaction();
    const id = await log.publish('orders', 'placed', { tx: committed.client });
    await committed.commit();
    // The rolled-back event's number was given back: no hole for readers to take for a trim.
    expect(id).toBe(lostId);
    expect(event(await live.next())).toEqual([id, 'placed']);
    // A reader resuming from before both finds only the committed one.
    const resumed = reader(log, 'orders', `${log.epoch}-0`);
    expect(event(await resumed.next())).toEqual([id, 'placed']);
    const next = await log.publish('orders', 'shipped');
    expect(event(await resumed.next())).toEqual([next, 'shipped']);
    expect(event(await live.next())).toEqual([next, 'shipped']);
    live.stop();
    resumed.stop();
    await log.close();
  });

  test('a second transaction’s publish waits for the first to end, so ids commit in order', async () => {
    const log = createLog();
    const live = reader(log, 't');
    await live.started();
    const first = await transaction();
    const second = await transaction();
    const firstId = await log.publish('t', 'first', { tx: first.client });
    // With a sequence, the second would take id 2 now and could commit before the first: a
    // reader that saw 2 would then skip 1. Here it waits for the first transaction instead.
    const secondId = log.publish('t', 'second', { tx: second.client });
    await expect.poll(waitingForLocks, { timeout: 20_000 }).toBe(1);
    // Other topics do not wait.
    const otherId = await log.publish('other', 'independent');
    expect(otherId).toBe(`${log.epoch}-1`);
    await first.commit();
    expect(await secondId).toBe(`${log.epoch}-2`);
    await second.commit();
    expect(event(await live.next())).toEqual([firstId, 'first']);
    expect(event(await live.next())).toEqual([await secondId, 'second']);
    live.stop();
    await log.close();
  });

  test('many transactions on two topics, committing and rolling back in random order: readers get every committed event once, in id order', async () => {
    const log = createLog({ maxEvents: 10_000 });
    const topics = ['a', 'b'];
    const live = topics.map((topic) => reader(log, topic));
    for (const r of live) await r.started();
    const committed: Record<string, Array<[string, unknown]>> = { a: [], b: [] };
    const ticks = (): Promise<void> => {
      let n = Math.floor(Math.random() * 20);
      return new Promise((resolve) => {
        const step = (): void => (n-- <= 0 ? resolve() : void setImmediate(step));
        step();
      });
    };
    await Promise.all(
      Array.from({ length: 12 }, async (_, worker) => {
        for (let i = 0; i < 10; i++) {
          const topic = topics[(worker + i) % 2]!;
          const tx = await transaction();
          await tx.client.query('SELECT 1');
          const data = `${worker}:${i}`;
          const id = await log.publish(topic, data, { tx: tx.client });
          await ticks();
          if ((worker * 7 + i) % 3 === 0) await tx.rollback();
          else {
            await tx.commit();
            committed[topic]!.push([id, data]);
          }
        }
      }),
    );
    for (const [index, topic] of topics.entries()) {
      const expected = [...committed[topic]!].sort((x, y) => Number(x[0].split('-')[1]) - Number(y[0].split('-')[1]));
      // Gapless: the committed ids are 1..n, every rolled-back number was reused.
      expect(expected.map(([id]) => id)).toEqual(expected.map((_, i) => `${log.epoch}-${i + 1}`));
      const received: Array<[string, unknown]> = [];
      while (received.length < expected.length) received.push(event(await live[index]!.next()));
      expect(received).toEqual(expected);
      const replayed = reader(log, topic, `${log.epoch}-0`);
      const again: Array<[string, unknown]> = [];
      while (again.length < expected.length) again.push(event(await replayed.next()));
      expect(again).toEqual(expected);
      replayed.stop();
    }
    for (const r of live) r.stop();
    await log.close();
  });
});

describe('the epoch', () => {
  test('tables wiped under a running log: readers get an epoch reset, then the new life’s events from its start', async () => {
    const tablePrefix = `wiped${++prefixes}_`;
    const log = createPostgresEventLog({ pool, tablePrefix });
    const live = reader(log, 'room');
    await live.started();
    await log.publish('room', 'before');
    expect(event(await live.next())[1]).toBe('before');
    const epochBefore = log.epoch;
    await pool.query(`TRUNCATE ${tablePrefix}meta, ${tablePrefix}topics, ${tablePrefix}events`);
    const id = await log.publish('room', 'after');
    expect(id.startsWith(`${epochBefore}-`)).toBe(false);
    const reset = await live.next();
    expect(isReset(reset)).toBe(true);
    expect(reset).toMatchObject({ reason: 'epoch' });
    expect(event(await live.next())).toEqual([id, 'after']);
    expect(log.epoch).not.toBe(epochBefore);
    live.stop();
    await log.close();
  });

  test('a publish that meets another process writing the new epoch row gets that epoch in its id', async () => {
    const tablePrefix = `racing${++prefixes}_`;
    const log = createPostgresEventLog({ pool, tablePrefix });
    await log.publish('room', 'before');
    await pool.query(`TRUNCATE ${tablePrefix}meta, ${tablePrefix}topics, ${tablePrefix}events`);
    // Another process writes the new epoch row and has not committed yet: the publish's own
    // insert of the row waits for it, and its snapshot is older than the row.
    const other = await pool.connect();
    let committed = false;
    try {
      await other.query('BEGIN');
      await other.query(`INSERT INTO ${tablePrefix}meta (id, epoch) VALUES (true, 'otherProcess1')`);
      const publishing = log.publish('room', 'after');
      const waitingOnTheRow = async () => {
        const { rows } = await pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
          [`%INSERT INTO "${tablePrefix}meta"%`],
        );
        return (rows[0] as { n: number }).n > 0;
      };
      let waiting = false;
      for (let i = 0; i < 2_000 && !waiting; i++) {
        waiting = await waitingOnTheRow();
        if (!waiting) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(waiting).toBe(true);
      await other.query('COMMIT');
      committed = true;
      expect(await publishing).toBe('otherProcess1-1');
      // The log adopts the epoch its publish saw.
      await expect.poll(() => log.epoch).toBe('otherProcess1');
    } finally {
      // A failure above must not hand the pool a connection holding the row's lock.
      if (!committed) await other.query('ROLLBACK').catch(() => undefined);
      other.release();
      await log.close();
    }
  });

  test('tables dropped under a running log: the next publish creates them again, with a new epoch', async () => {
    const tablePrefix = `dropped${++prefixes}_`;
    const log = createPostgresEventLog({ pool, tablePrefix });
    const stale = await log.publish('room', 'before');
    await pool.query(`DROP TABLE ${tablePrefix}meta, ${tablePrefix}topics, ${tablePrefix}events`);
    const id = await log.publish('room', 'after');
    expect(id.split('-')[0]).not.toBe(stale.split('-')[0]);
    const resumed = reader(log, 'room', stale);
    const reset = await resumed.next();
    expect(reset).toMatchObject({ reason: 'epoch' });
    resumed.stop();
    await log.close();
  });

  test('a topic’s counter that goes backwards (a restore): the log takes a new epoch and readers reset', async () => {
    const tablePrefix = `rewound${++prefixes}_`;
    // The poll interval only says how soon the rewind is seen; the test waits for the reset.
    const log = createPostgresEventLog({ pool, tablePrefix, pollIntervalMs: 50 });
    const live = reader(log, 'room');
    await live.started();
    for (const n of [1, 2, 3]) await log.publish('room', n);
    for (let n = 0; n < 3; n++) await live.next();
    const epochBefore = log.epoch;
    // As if the database came back from a backup taken after the first event.
    await pool.query(`DELETE FROM ${tablePrefix}events WHERE seq > 1`);
    await pool.query(`UPDATE ${tablePrefix}topics SET last_seq = 1`);
    expect(await live.next()).toMatchObject({ reason: 'epoch' });
    expect(log.epoch).not.toBe(epochBefore);
    // The ids issued again carry the new epoch, so no client takes them for ones it has.
    const id = await log.publish('room', 'again');
    expect(id).toBe(`${log.epoch}-2`);
    live.stop();
    await log.close();
  });

  test('two processes’ logs on the same tables: one epoch, and an event published by one reaches readers of the other', async () => {
    const tablePrefix = `shared${++prefixes}_`;
    const a = createPostgresEventLog({ pool, tablePrefix });
    const b = createPostgresEventLog({ pool, tablePrefix });
    const live = reader(b, 'room');
    await live.started();
    const id = await a.publish('room', 'hello from a');
    expect(event(await live.next())).toEqual([id, 'hello from a']);
    expect(a.epoch).toBe(b.epoch);
    live.stop();
    await a.close();
    await b.close();
  });
});

describe('readers racing their own setup', () => {
  /** The test's pool, with a hook that runs before each query whose text contains `marker`. */
  function hookedPool(marker: string, hook: () => Promise<void> | void): PostgresEventLogOptions['pool'] {
    return {
      query: async (text: string, values?: unknown[]) => {
        if (text.includes(marker)) await hook();
        return pool.query(text, values);
      },
      connect: () => pool.connect(),
    };
  }

  const sinkInto = (items: unknown[]): PushSink => ({
    value: (value) => items.push(value) > 0,
    drained: () => Promise.resolve(),
    complete: () => undefined,
    fail: () => undefined,
  });

  test('a pushed reader stopped while Postgres answers its resume does not stay registered', async () => {
    const adds = vi.spyOn(TopicSubscribers.prototype, 'add');
    const deletes = vi.spyOn(TopicSubscribers.prototype, 'delete');
    let handle: PushHandle | undefined;
    let stopNext = false;
    // The head query (`first_seq`) is what a resuming reader asks; stop the reader right then.
    const log = createLog({
      pool: hookedPool('first_seq', () => {
        if (stopNext) {
          stopNext = false;
          handle?.stop();
        }
      }),
    });
    try {
      const liveItems: unknown[] = [];
      pushSourceOf(log.subscribe('t'))![PUSH_SOURCE](sinkInto(liveItems), {});
      await expect.poll(() => liveItems.length, { timeout: 20_000 }).toBe(1); // its checkpoint
      const id = await log.publish('t', 1);
      stopNext = true;
      const stoppedItems: unknown[] = [];
      handle = pushSourceOf(log.subscribe('t', { lastEventId: id }))![PUSH_SOURCE](sinkInto(stoppedItems), {});
      await log.publish('t', 2);
      await expect.poll(() => liveItems.filter(isTrackedEnvelope).length, { timeout: 20_000 }).toBe(2);
      expect(stopNext).toBe(false);
      expect(stoppedItems).toEqual([]);
      // Replay the registrations in call order (a delete before its add removes nothing).
      const events = [
        ...adds.mock.calls.map((call, i) => ({ order: adds.mock.invocationCallOrder[i]!, add: true, reader: call[0] })),
        ...deletes.mock.calls.map((call, i) => ({
          order: deletes.mock.invocationCallOrder[i]!,
          add: false,
          reader: call[0],
        })),
      ].sort((a, b) => a.order - b.order);
      const live = new Set<unknown>();
      for (const event of events) {
        if (event.add) live.add(event.reader);
        else live.delete(event.reader);
      }
      // Only the live reader is still registered.
      expect(live.size).toBe(1);
    } finally {
      adds.mockRestore();
      deletes.mockRestore();
      await log.close();
    }
  });

  test('a reader whose new topic every other reader left while it was being set up still gets events', async () => {
    let raced = false;
    // While the new topic's first read runs (`LATERAL`), another reader comes and goes.
    const log: PostgresEventLog = createLog({
      pool: hookedPool('LATERAL', async () => {
        if (raced) return;
        raced = true;
        const passerBy = log.subscribe('race');
        await passerBy.next();
        await passerBy.return(undefined);
      }),
    });
    const items: unknown[] = [];
    pushSourceOf(log.subscribe('race'))![PUSH_SOURCE](sinkInto(items), {});
    await expect.poll(() => items.length, { timeout: 20_000 }).toBe(1); // its checkpoint
    expect(raced).toBe(true);
    const id = await log.publish('race', 'hello');
    await expect
      .poll(() => items.filter(isTrackedEnvelope).map((envelope) => envelope[0]), { timeout: 20_000 })
      .toEqual([id]);
    await log.close();
  });
});
