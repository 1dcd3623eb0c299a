/**
 * The event-log contract: every backend (memory now, Redis next) runs this same suite.
 */
import { isTrackedEnvelope } from '@trpc/server';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { PUSH_SOURCE, pushSourceOf } from '../../src/log/pushSource.js';
import { isCheckpoint, isReset } from '../../src/log/reset.js';
import type { EventLog } from '../../src/log/types.js';

export interface EventLogBackend {
  name: string;
  create(opts: { maxEvents?: number; maxAgeMs?: number }): Promise<EventLog>;
  /**
   * The process learns of a publish by reading the store after it (Redis): events can be
   * trimmed before it has read them, so a pushed reader may have none in flight when its
   * window moves on. (Logs told by their own publish, or in commit order, always have one.)
   */
  readsAfterPublishers?: boolean;
}

/**
 * The push side of a subscription (what trpc-sse's server takes) seen as an iterator, so the
 * same contract checks both sides. The sink says "full" as soon as it holds a value, so, as
 * with pulling, one value is in flight at a time, and the log's pause-and-catch-up path runs
 * for every value.
 */
function pushed(subscription: AsyncIterable<unknown>): AsyncIterator<unknown> {
  const source = pushSourceOf(subscription);
  if (!source) throw new Error('this subscription has no push side');
  const queue: Array<IteratorResult<unknown> | { error: unknown }> = [];
  let wake: (() => void) | null = null;
  let room: (() => void) | null = null;
  const settle = (): void => {
    wake?.();
    wake = null;
  };
  const handle = source[PUSH_SOURCE](
    {
      value(value) {
        queue.push({ done: false, value });
        settle();
        return queue.length === 0;
      },
      drained: () => (queue.length === 0 ? Promise.resolve() : new Promise<void>((resolve) => (room = resolve))),
      complete() {
        queue.push({ done: true, value: undefined });
        settle();
      },
      fail(error) {
        queue.push({ error });
        settle();
      },
    },
    {},
  );
  return {
    async next() {
      while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const head = queue[0]!;
      if (!('done' in head && head.done)) queue.shift();
      if (queue.length === 0) {
        room?.();
        room = null;
      }
      if ('error' in head) throw head.error;
      return head;
    },
    async return() {
      handle.stop();
      return { done: true, value: undefined };
    },
  };
}

type Item =
  | { kind: 'event'; id: string; data: unknown }
  | { kind: 'reset'; reason: string; lastEventId: string | null }
  | { kind: 'checkpoint'; lastEventId: string };

function toItem(value: unknown): Item {
  if (isReset(value)) return { kind: 'reset', reason: value.reason, lastEventId: value.lastEventId };
  if (isCheckpoint(value)) return { kind: 'checkpoint', lastEventId: value.lastEventId };
  if (isTrackedEnvelope(value)) return { kind: 'event', id: String(value[0]), data: value[1] };
  throw new Error(`unexpected value ${String(value)}`);
}

/**
 * Reads `count` items (bounded by a timeout so a broken backend fails instead of hanging; the
 * bound is far above what a healthy backend takes on a busy machine, and never a delay).
 * Checkpoints (positions, not events) are skipped unless `checkpoints` is set.
 */
async function take(
  iterator: AsyncIterator<unknown>,
  count: number,
  timeoutMs = 20_000,
  checkpoints = false,
): Promise<Item[]> {
  const items: Item[] = [];
  const deadline = Date.now() + timeoutMs;
  while (items.length < count) {
    const next = await Promise.race([
      iterator.next(),
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), Math.max(1, deadline - Date.now()))),
    ]);
    if (next === 'timeout') throw new Error(`timed out after ${items.length} of ${count} items`);
    if (next.done) break;
    const item = toItem(next.value);
    if (item.kind !== 'checkpoint' || checkpoints) items.push(item);
  }
  return items;
}

/** Runs the contract against `backend`, reading subscriptions as apps do (`pull`) or as the server does (`push`). */
export function eventLogContract(backend: EventLogBackend, consume: 'pull' | 'push' = 'pull'): void {
  describe(`event log contract: ${backend.name}, ${consume}`, () => {
    const logs: EventLog[] = [];
    const aborts: AbortController[] = [];
    afterEach(async () => {
      for (const abort of aborts.splice(0)) abort.abort();
      for (const log of logs.splice(0)) await log.close();
    });
    const create = async (opts: { maxEvents?: number; maxAgeMs?: number } = {}) => {
      const log = await backend.create(opts);
      logs.push(log);
      return log;
    };
    const subscribe = (log: EventLog, topic: string, lastEventId?: string | null) => {
      const abort = new AbortController();
      aborts.push(abort);
      const subscription = log.subscribe(topic, { lastEventId, signal: abort.signal });
      return { iterator: consume === 'pull' ? subscription : pushed(subscription), abort };
    };

    test('ids carry the epoch and grow', async () => {
      const log = await create();
      const ids = [await log.publish('t', 1), await log.publish('t', 2)];
      expect(ids[0]!.startsWith(`${log.epoch}-`)).toBe(true);
      expect(ids[0]).not.toBe(ids[1]);
    });

    test('replay after the given id, then live, in order', async () => {
      const log = await create();
      const ids = [];
      for (const n of [1, 2, 3]) ids.push(await log.publish('t', { n }));
      const { iterator } = subscribe(log, 't', ids[0]);
      const replayed = await take(iterator, 2);
      expect(replayed).toEqual([
        { kind: 'event', id: ids[1], data: { n: 2 } },
        { kind: 'event', id: ids[2], data: { n: 3 } },
      ]);
      const id4 = await log.publish('t', { n: 4 });
      expect(await take(iterator, 1)).toEqual([{ kind: 'event', id: id4, data: { n: 4 } }]);
    });

    test('without an id: first a checkpoint at the head, so a resume has a start', async () => {
      const log = await create();
      await log.publish('t', 'old');
      const head = await log.publish('t', 'older still');
      const { iterator } = subscribe(log, 't');
      expect(await take(iterator, 1, undefined, true)).toEqual([{ kind: 'checkpoint', lastEventId: head }]);
      // Resuming from that checkpoint misses nothing published after it.
      const next = await log.publish('t', 'after');
      const resumed = subscribe(log, 't', head).iterator;
      expect(await take(resumed, 1)).toEqual([{ kind: 'event', id: next, data: 'after' }]);
    });

    test('without an id: live events only', async () => {
      const log = await create();
      await log.publish('t', 'old');
      const { iterator } = subscribe(log, 't');
      const pending = take(iterator, 1);
      const id = await log.publish('t', 'new');
      expect(await pending).toEqual([{ kind: 'event', id, data: 'new' }]);
    });

    test('topics are separate', async () => {
      const log = await create();
      const { iterator } = subscribe(log, 'a');
      const pending = take(iterator, 1);
      await log.publish('b', 'not mine');
      const id = await log.publish('a', 'mine');
      expect(await pending).toEqual([{ kind: 'event', id, data: 'mine' }]);
    });

    test('publishing while a reader replays: nothing lost, nothing twice', async () => {
      const log = await create({ maxEvents: 10_000 });
      const first = await log.publish('t', 0);
      for (let n = 1; n < 200; n++) await log.publish('t', n);
      const { iterator } = subscribe(log, 't', first);
      const publishing = (async () => {
        for (let n = 200; n < 400; n++) {
          await log.publish('t', n);
          if (n % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const items = await take(iterator, 399);
      await publishing;
      expect(items.map((item) => (item.kind === 'event' ? item.data : item.kind))).toEqual(
        Array.from({ length: 399 }, (_, i) => i + 1),
      );
    });

    test('concurrent publishers: every event once, ids unique', async () => {
      const log = await create({ maxEvents: 10_000 });
      const { iterator } = subscribe(log, 't');
      const reading = take(iterator, 1000);
      await Promise.all(
        Array.from({ length: 10 }, (_, p) =>
          (async () => {
            for (let i = 0; i < 100; i++) await log.publish('t', `${p}:${i}`);
          })(),
        ),
      );
      const items = await reading;
      const data = items.map((item) => (item.kind === 'event' ? item.data : 'reset'));
      expect(new Set(data).size).toBe(1000);
      expect(new Set(items.map((item) => (item.kind === 'event' ? item.id : ''))).size).toBe(1000);
      // Each publisher's own events stay in its order.
      for (let p = 0; p < 10; p++) {
        const mine = data.filter((d) => String(d).startsWith(`${p}:`));
        expect(mine).toEqual(Array.from({ length: 100 }, (_, i) => `${p}:${i}`));
      }
    });

    test('an id that was trimmed away: a reset, then live from the head', async () => {
      const log = await create({ maxEvents: 5 });
      const early = await log.publish('t', 0);
      let head = early;
      for (let n = 1; n < 20; n++) head = await log.publish('t', n);
      const { iterator } = subscribe(log, 't', early);
      expect(await take(iterator, 1)).toEqual([{ kind: 'reset', reason: 'trimmed', lastEventId: head }]);
      const next = await log.publish('t', 20);
      expect(await take(iterator, 1)).toEqual([{ kind: 'event', id: next, data: 20 }]);
    });

    test('an id of another epoch (a wiped or replaced log): a reset', async () => {
      const before = await create();
      const staleId = await before.publish('t', 'x');
      const after = await create();
      const head = await after.publish('t', 'y');
      const { iterator } = subscribe(after, 't', staleId);
      expect(await take(iterator, 1)).toEqual([{ kind: 'reset', reason: 'epoch', lastEventId: head }]);
    });

    test.each([
      ['garbage', 'not-an-id!'],
      ['huge', '9'.repeat(500)],
      ['negative', '-1'],
      ['from the future', 'FUTURE'],
      ['empty epoch', '-5'],
    ])('a bad id (%s): a reset, never a crash', async (_name, raw) => {
      const log = await create();
      const head = await log.publish('t', 1);
      const id = raw === 'FUTURE' ? `${log.epoch}-999999` : raw;
      const { iterator } = subscribe(log, 't', id);
      const [first] = await take(iterator, 1);
      expect(first).toMatchObject({ kind: 'reset', lastEventId: head });
      const next = await log.publish('t', 2);
      expect(await take(iterator, 1)).toEqual([{ kind: 'event', id: next, data: 2 }]);
    });

    test('a topic dropped while empty and published to again never reuses an id', async () => {
      const maxAgeMs = 60_000;
      const log = await create({ maxEvents: 1_000, maxAgeMs });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await log.publish('t', `old ${i}`));
      // The old events age out by the logs' own clock (Date), moved past the age limit and then
      // held still, so the new events below never age out, however slow the machine. Redis
      // stamps events with its own time: the real clock first moves past the last old event,
      // so every old event is older than the moved clock's limit and every new one is not.
      const lastOld = Date.now();
      while (Date.now() <= lastOld) await new Promise((resolve) => setImmediate(resolve));
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + maxAgeMs });
      try {
        // A reader comes and goes, so the topic can be dropped.
        const { iterator, abort } = subscribe(log, 't');
        await take(iterator, 1, undefined, true);
        abort.abort();
        await iterator.next();
        const fresh: string[] = [];
        for (let i = 0; i < 5; i++) fresh.push(await log.publish('t', `new ${i}`));
        expect(fresh.filter((id) => ids.includes(id))).toEqual([]);
        // The old events did age out: a client holding the first of them cannot resume.
        const stale = subscribe(log, 't', ids[0]).iterator;
        expect(await take(stale, 1)).toMatchObject([{ kind: 'reset', reason: 'trimmed' }]);
        // A client still holding the last old id gets every new event: none is skipped as
        // "already seen" (which a reused id would cause).
        const resumed = subscribe(log, 't', ids[2]).iterator;
        const items = await take(resumed, 5);
        expect(items.map((item) => (item.kind === 'event' ? item.data : item.kind))).toEqual(
          [0, 1, 2, 3, 4].map((i) => `new ${i}`),
        );
      } finally {
        vi.useRealTimers();
      }
    });

    test('a reader that falls out of the window gets a reset instead of a queue', async () => {
      const log = await create({ maxEvents: 10 });
      const { iterator } = subscribe(log, 't');
      const firstRead = take(iterator, 1);
      await log.publish('t', 0);
      await firstRead;
      let head = '';
      for (let n = 1; n <= 50; n++) head = await log.publish('t', n);
      // At most the value in flight when the window moved (a pushed reader holds one, if the
      // process read it before it was trimmed), then the reset.
      const items: Item[] = [];
      while (items.length < 2 && items.at(-1)?.kind !== 'reset') {
        const next = await take(iterator, 1);
        if (next.length === 0) break;
        items.push(...next);
      }
      expect(items.at(-1)).toEqual({ kind: 'reset', reason: 'trimmed', lastEventId: head });
      const before = items.slice(0, -1).map((item) => (item.kind === 'event' ? item.data : item.kind));
      if (consume === 'pull') expect(before).toEqual([]);
      else if (backend.readsAfterPublishers) expect([[], [1]]).toContainEqual(before);
      else expect(before).toEqual([1]);
    });

    test('unsubscribing mid-replay ends the reader at once', async () => {
      const log = await create({ maxEvents: 5000 });
      const first = await log.publish('t', 0);
      for (let n = 1; n < 1000; n++) await log.publish('t', n);
      const { iterator, abort } = subscribe(log, 't', first);
      expect(await take(iterator, 10)).toHaveLength(10);
      abort.abort();
      const rest = await take(iterator, 1000);
      // At most the value in flight when the signal fired.
      expect(rest.length).toBeLessThanOrEqual(1);
      expect(await iterator.next()).toEqual({ done: true, value: undefined });
    });

    test('a reader waiting for live events ends when its signal aborts', async () => {
      const log = await create();
      const { iterator, abort } = subscribe(log, 't');
      expect(await take(iterator, 1, undefined, true)).toMatchObject([{ kind: 'checkpoint' }]);
      const next = iterator.next();
      abort.abort();
      expect(await next).toEqual({ done: true, value: undefined });
    });
  });
}
