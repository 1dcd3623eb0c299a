/**
 * The memory event log's push path (src/log/pushSource.ts): a log subscription handed to the
 * server's pump is delivered to synchronously, in the turn `publish` runs, with no queue per
 * reader — a reader whose outlet is full stops, and catches up from its cursor once the
 * outlet drains. Driven here through `pumpSource` with a fake outlet the test controls, and
 * directly through `[PUSH_SOURCE]`.
 *
 * Nothing here sleeps: an outlet's `drained()` is a promise the test resolves, and what the
 * log delivers on the push path it delivers synchronously.
 */
import { isTrackedEnvelope } from '@trpc/server';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createMemoryEventLog, type MemoryEventLogOptions } from '../../src/log/memoryEventLog.js';
import {
  PUSH_SOURCE,
  pushSourceOf,
  type PushHandle,
  type PushSink,
  type PushSource,
} from '../../src/log/pushSource.js';
import { isCheckpoint, isReset } from '../../src/log/reset.js';
import type { EventLog, EventLogSubscribeOptions } from '../../src/log/types.js';
import { discardSource, pumpSource, type Pump, type PumpOutlet } from '../../src/server/sourcePump.js';

// ---------------------------------------------------------------------------------------------
// Helpers

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

type Item =
  | { kind: 'event'; id: string; data: unknown }
  | { kind: 'reset'; reason: string; lastEventId: string | null }
  | { kind: 'checkpoint'; lastEventId: string };

function itemOf(value: unknown): Item {
  if (isReset(value)) return { kind: 'reset', reason: value.reason, lastEventId: value.lastEventId };
  if (isCheckpoint(value)) return { kind: 'checkpoint', lastEventId: value.lastEventId };
  if (isTrackedEnvelope(value)) return { kind: 'event', id: String(value[0]), data: value[1] };
  throw new Error(`not a log item: ${String(value)}`);
}

/**
 * An outlet (and push sink) the test controls: `policy` decides what `value()` returns, or
 * throws in its place (a value that cannot be serialized); `drained()` settles only when the
 * test calls `drain()`.
 */
class FakeOutlet implements PumpOutlet, PushSink {
  /** Every value taken (a value whose `policy` threw is not taken). */
  readonly values: unknown[] = [];
  readonly failures: unknown[] = [];
  completes = 0;
  overflows = 0;
  drainedCalls = 0;
  policy: (value: unknown, index: number) => boolean = () => true;
  #pending: Deferred | undefined;

  value(value: unknown): boolean {
    const verdict = this.policy(value, this.values.length);
    this.values.push(value);
    return verdict;
  }

  drained(): Promise<void> {
    this.drainedCalls++;
    return (this.#pending ??= deferred()).promise;
  }

  /** Settles the pending `drained()`. Awaiting the result lets the log's catch-up (queued first on that promise) run. */
  drain(): Promise<void> {
    const pending = this.#pending;
    if (!pending) throw new Error('drain() without a pending drained()');
    this.#pending = undefined;
    pending.resolve();
    return pending.promise;
  }

  get waitingForDrain(): boolean {
    return this.#pending !== undefined;
  }

  overBudget(): boolean {
    return false;
  }

  complete(): void {
    this.completes++;
  }

  fail(cause: unknown): void {
    this.failures.push(cause);
  }

  overflow(): void {
    this.overflows++;
  }

  get items(): Item[] {
    return this.values.map(itemOf);
  }

  /** The data of the events taken, in order (resets and checkpoints left out). */
  get data(): unknown[] {
    return this.items.flatMap((item) => (item.kind === 'event' ? [item.data] : []));
  }

  get ids(): string[] {
    return this.items.flatMap((item) => (item.kind === 'event' ? [item.id] : []));
  }
}

/** Accepts everything except the event whose data is `data`: the outlet is full after it. */
const fullAfter =
  (data: unknown) =>
  (value: unknown): boolean =>
    !(isTrackedEnvelope(value) && value[1] === data);

const logs: EventLog[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const log of logs.splice(0)) await log.close();
});

function newLog(opts: MemoryEventLogOptions = {}): EventLog {
  const log = createMemoryEventLog(opts);
  logs.push(log);
  return log;
}

/** A log subscription pumped the way the server pumps one. */
function pumped(
  log: EventLog,
  topic: string,
  options: EventLogSubscribeOptions = {},
  consumerSignal?: AbortSignal,
  outlet: FakeOutlet = new FakeOutlet(),
) {
  const subscription = log.subscribe(topic, options);
  const pump: Pump = pumpSource({ kind: 'iterable', value: subscription }, outlet, consumerSignal);
  return { outlet, pump, subscription };
}

function pushSide(subscription: unknown): PushSource {
  const source = pushSourceOf(subscription);
  if (!source) throw new Error('a memory log subscription has no push side');
  return source;
}

/** A log subscription pushed directly to a sink. */
function pushed(log: EventLog, topic: string, options: EventLogSubscribeOptions = {}) {
  const sink = new FakeOutlet();
  const handle: PushHandle = pushSide(log.subscribe(topic, options))[PUSH_SOURCE](sink, {});
  return { sink, handle };
}

async function publishAll(log: EventLog, topic: string, data: unknown[]): Promise<string[]> {
  const ids: string[] = [];
  for (const d of data) ids.push(await log.publish(topic, d));
  return ids;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// ---------------------------------------------------------------------------------------------

describe('synchronous fan-out', () => {
  test('every pumped subscriber has the event before publish is awaited; one shared envelope', async () => {
    const log = newLog();
    const outlets = Array.from({ length: 50 }, () => pumped(log, 't').outlet);
    // Starting is synchronous too: each outlet already has its checkpoint.
    for (const outlet of outlets) {
      expect(outlet.values).toHaveLength(1);
      expect(isCheckpoint(outlet.values[0])).toBe(true);
    }

    const publishing = log.publish('t', { n: 1 });
    // Nothing awaited yet.
    for (const outlet of outlets) {
      expect(outlet.values).toHaveLength(2);
      expect(isTrackedEnvelope(outlet.values[1])).toBe(true);
      expect(outlet.data).toEqual([{ n: 1 }]);
    }
    // The envelope is made once and handed to every reader.
    expect(new Set(outlets.map((outlet) => outlet.values[1])).size).toBe(1);

    void log.publish('t', { n: 2 });
    void log.publish('t', { n: 3 });
    for (const outlet of outlets) expect(outlet.data).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);

    const id = await publishing;
    for (const outlet of outlets) {
      expect(outlet.ids[0]).toBe(id);
      expect(new Set(outlet.ids).size).toBe(3);
      expect(outlet.failures).toEqual([]);
      expect(outlet.completes).toBe(0);
    }
  });

  test('the checkpoint is the head at subscribe time; other topics do not reach the outlet', async () => {
    const log = newLog();
    const head = await log.publish('t', 'before');
    const { outlet } = pumped(log, 't');
    expect(outlet.items).toEqual([{ kind: 'checkpoint', lastEventId: head }]);
    void log.publish('other', 'not mine');
    const id = await log.publish('t', 'mine');
    expect(outlet.items).toEqual([
      { kind: 'checkpoint', lastEventId: head },
      { kind: 'event', id, data: 'mine' },
    ]);
  });

  test('a sink pushed directly gets the same, synchronously', () => {
    const log = newLog();
    const { sink } = pushed(log, 't');
    expect(isCheckpoint(sink.values[0])).toBe(true);
    void log.publish('t', 'x');
    expect(sink.data).toEqual(['x']);
  });
});

describe('backpressure without a queue and without loss', () => {
  test('a full outlet gets nothing until it drains, then every missed event in order, once', async () => {
    const log = newLog();
    const a = pumped(log, 't').outlet;
    const b = pumped(log, 't').outlet;
    const c = pumped(log, 't').outlet;
    b.policy = fullAfter(1);

    void log.publish('t', 0);
    void log.publish('t', 1);
    // b took 1 and said it is full: it waits for its drain.
    expect(b.data).toEqual([0, 1]);
    expect(b.waitingForDrain).toBe(true);

    void log.publish('t', 2);
    void log.publish('t', 3);
    expect(b.data).toEqual([0, 1]);
    // The others are not held back by b.
    expect(a.data).toEqual([0, 1, 2, 3]);
    expect(c.data).toEqual([0, 1, 2, 3]);
    // Publishing to a paused reader does not ask again: one drained() per pause.
    expect(b.drainedCalls).toBe(1);

    await b.drain();
    expect(b.data).toEqual([0, 1, 2, 3]);
    expect(b.ids).toEqual(a.ids);

    // Live again, synchronously.
    void log.publish('t', 4);
    expect(b.data).toEqual([0, 1, 2, 3, 4]);
    expect(b.ids).toEqual(a.ids);
    expect(b.drainedCalls).toBe(1);
    expect(b.items.filter((item) => item.kind !== 'event')).toHaveLength(1); // the checkpoint only
  });

  test('an outlet that stays full gets one value per drain', async () => {
    const log = newLog();
    const outlet = new FakeOutlet();
    outlet.policy = () => false;
    pumped(log, 't', {}, undefined, outlet);
    // The checkpoint filled it.
    expect(outlet.values).toHaveLength(1);
    expect(outlet.waitingForDrain).toBe(true);
    for (const n of range(1, 4)) void log.publish('t', n);
    expect(outlet.data).toEqual([]);
    for (const n of range(1, 4)) {
      await outlet.drain();
      expect(outlet.data).toEqual(range(1, n));
      expect(outlet.waitingForDrain).toBe(true);
    }
    await outlet.drain();
    // Nothing left: it is no longer waiting, and the next event comes live.
    expect(outlet.waitingForDrain).toBe(false);
    outlet.policy = () => true;
    void log.publish('t', 5);
    expect(outlet.data).toEqual(range(1, 5));
  });

  test('paused for exactly as many events as the window holds: all caught up, no reset', async () => {
    const log = newLog({ maxEvents: 5 });
    const { outlet } = pumped(log, 't');
    outlet.policy = fullAfter(0);
    void log.publish('t', 0);
    await publishAll(log, 't', range(1, 5));
    expect(outlet.data).toEqual([0]);
    await outlet.drain();
    expect(outlet.items.filter((item) => item.kind === 'reset')).toEqual([]);
    expect(outlet.data).toEqual(range(0, 5));
  });

  test('paused while the window trimmed unread events: a trimmed reset at the head, then live, no duplicates', async () => {
    const log = newLog({ maxEvents: 5 });
    const { outlet } = pumped(log, 't');
    const other = pumped(log, 't').outlet;
    outlet.policy = fullAfter(0);
    void log.publish('t', 0);
    const ids = await publishAll(log, 't', range(1, 6));
    const head = ids.at(-1)!;
    expect(outlet.data).toEqual([0]);

    await outlet.drain();
    const afterDrain = outlet.items.slice(2); // after the checkpoint and event 0
    expect(afterDrain).toEqual([{ kind: 'reset', reason: 'trimmed', lastEventId: head }]);

    const next = await log.publish('t', 7);
    expect(outlet.items.slice(2)).toEqual([
      { kind: 'reset', reason: 'trimmed', lastEventId: head },
      { kind: 'event', id: next, data: 7 },
    ]);
    expect(new Set(outlet.ids).size).toBe(outlet.ids.length);
    // The reader that kept up saw everything, and no reset.
    expect(other.data).toEqual(range(0, 7));
    expect(other.items.filter((item) => item.kind === 'reset')).toEqual([]);
  });

  test('a reset can itself fill the outlet: the reader waits, then goes on from the head', async () => {
    const log = newLog({ maxEvents: 2 });
    const { outlet } = pumped(log, 't');
    outlet.policy = fullAfter(0);
    void log.publish('t', 0);
    await publishAll(log, 't', range(1, 5));
    outlet.policy = (value) => !isReset(value);
    await outlet.drain();
    expect(outlet.items.at(-1)).toMatchObject({ kind: 'reset', reason: 'trimmed' });
    expect(outlet.waitingForDrain).toBe(true);
    void log.publish('t', 6);
    expect(outlet.data).toEqual([0]);
    await outlet.drain();
    expect(outlet.data).toEqual([0, 6]);
  });
});

describe('resume on the push path', () => {
  test('from the last id of an earlier subscription: what came after, then live, no gap or duplicate', async () => {
    const log = newLog();
    const first = pumped(log, 't');
    await publishAll(log, 't', [1, 2]);
    const lastId = first.outlet.ids.at(-1)!;
    first.pump.stop();
    const missed = await publishAll(log, 't', [3, 4]);

    const second = pumped(log, 't', { lastEventId: lastId });
    // Replayed synchronously while pumping starts; no checkpoint on a resume.
    expect(second.outlet.items).toEqual([
      { kind: 'event', id: missed[0], data: 3 },
      { kind: 'event', id: missed[1], data: 4 },
    ]);
    const live = await log.publish('t', 5);
    expect(second.outlet.items.at(-1)).toEqual({ kind: 'event', id: live, data: 5 });
    expect(second.outlet.data).toEqual([3, 4, 5]);
  });

  test('from a checkpoint: the first event after it is not missed', async () => {
    const log = newLog();
    await log.publish('t', 'old');
    const first = pumped(log, 't');
    const checkpoint = first.outlet.values[0];
    if (!isCheckpoint(checkpoint)) throw new Error('expected a checkpoint first');
    first.pump.stop();
    await log.publish('t', 'new');
    const second = pumped(log, 't', { lastEventId: checkpoint.lastEventId });
    expect(second.outlet.data).toEqual(['new']);
  });

  test('an outlet full during replay catches up with replay and live together, in order', async () => {
    const log = newLog();
    const [from] = await publishAll(log, 't', range(0, 9));
    const outlet = new FakeOutlet();
    outlet.policy = fullAfter(3);
    pumpSource({ kind: 'iterable', value: log.subscribe('t', { lastEventId: from }) }, outlet);
    expect(outlet.data).toEqual([1, 2, 3]);
    void log.publish('t', 10);
    expect(outlet.data).toEqual([1, 2, 3]);
    await outlet.drain();
    expect(outlet.data).toEqual(range(1, 10));
  });

  test.each([
    ['garbage', () => 'not-an-id!'],
    ['from the future', (log: EventLog) => `${log.epoch}-999999`],
    ['negative', () => '-1'],
  ])('a bad id (%s): an unknown reset at the head first, then live', async (_name, badId) => {
    const log = newLog();
    const head = await log.publish('t', 1);
    const { outlet } = pumped(log, 't', { lastEventId: badId(log) });
    expect(outlet.items).toEqual([{ kind: 'reset', reason: 'unknown', lastEventId: head }]);
    const next = await log.publish('t', 2);
    expect(outlet.items).toEqual([
      { kind: 'reset', reason: 'unknown', lastEventId: head },
      { kind: 'event', id: next, data: 2 },
    ]);
  });

  test('an id of another log: an epoch reset first, then live', async () => {
    const before = newLog();
    const stale = await before.publish('t', 'x');
    const log = newLog();
    const head = await log.publish('t', 'y');
    const { outlet } = pumped(log, 't', { lastEventId: stale });
    expect(outlet.items).toEqual([{ kind: 'reset', reason: 'epoch', lastEventId: head }]);
    const next = await log.publish('t', 'z');
    expect(outlet.items.at(-1)).toEqual({ kind: 'event', id: next, data: 'z' });
  });

  // The usual case of a restarted process: the client's id, from the old log, is further along
  // than the new log's topic. The Redis log checks the epoch before the position
  // (redisEventLog.ts); the memory log checks the position first and calls it 'unknown'.
  test('an id of another log further along than this topic: still an epoch reset', async () => {
    const before = newLog();
    const ids = await publishAll(before, 't', range(1, 5));
    const log = newLog();
    const head = await log.publish('t', 'only one');
    const { outlet } = pumped(log, 't', { lastEventId: ids.at(-1)! });
    expect(outlet.items).toEqual([{ kind: 'reset', reason: 'epoch', lastEventId: head }]);
  });

  test('an id trimmed away: a trimmed reset first, then live', async () => {
    const log = newLog({ maxEvents: 3 });
    const ids = await publishAll(log, 't', range(0, 5));
    const [early, head] = [ids[0], ids.at(-1)];
    const { outlet } = pumped(log, 't', { lastEventId: early });
    expect(outlet.items).toEqual([{ kind: 'reset', reason: 'trimmed', lastEventId: head }]);
    void log.publish('t', 6);
    expect(outlet.data).toEqual([6]);
  });
});

describe('a sink that throws', () => {
  test('pumped: fail() once for that outlet; the others get that event and later ones; publish resolves', async () => {
    const log = newLog();
    const a = pumped(log, 't').outlet;
    const b = pumped(log, 't').outlet;
    const c = pumped(log, 't').outlet;
    const cause = new Error('cannot serialize');
    b.policy = (value) => {
      if (isTrackedEnvelope(value) && value[1] === 2) throw cause;
      return true;
    };
    await log.publish('t', 1);
    await expect(log.publish('t', 2)).resolves.toMatch(new RegExp(`^${log.epoch}-`));
    expect(b.failures).toEqual([cause]);
    expect(b.data).toEqual([1]);
    expect(a.data).toEqual([1, 2]);
    expect(c.data).toEqual([1, 2]);

    b.policy = () => true; // were it still reached, it would take the value now
    await expect(log.publish('t', 3)).resolves.toBeTypeOf('string');
    expect(a.data).toEqual([1, 2, 3]);
    expect(c.data).toEqual([1, 2, 3]);
    expect(b.data).toEqual([1]);
    expect(b.failures).toEqual([cause]);
    expect(b.completes).toBe(0);
  });

  test('pushed directly: the sink gets fail() once; the others go on; publish resolves', async () => {
    const log = newLog();
    const a = pushed(log, 't').sink;
    const b = pushed(log, 't').sink;
    const cause = new Error('cannot serialize');
    a.policy = (value) => {
      if (isTrackedEnvelope(value)) throw cause;
      return true;
    };
    await expect(log.publish('t', 1)).resolves.toBeTypeOf('string');
    await expect(log.publish('t', 2)).resolves.toBeTypeOf('string');
    expect(a.failures).toEqual([cause]);
    expect(a.data).toEqual([]);
    expect(a.completes).toBe(0);
    expect(b.data).toEqual([1, 2]);
  });

  test('pumped, throwing on the first item (the checkpoint): fail() once, nothing after, topic let go', async () => {
    const log = newLog({ maxTopics: 1 });
    const outlet = new FakeOutlet();
    const cause = new Error('cannot serialize');
    outlet.policy = () => {
      throw cause;
    };
    const pump = pumpSource({ kind: 'iterable', value: log.subscribe('a') }, outlet);
    expect(outlet.failures).toEqual([cause]);
    // It ended before pumpSource had a handle to stop; the reader must still be gone.
    // ('a' holds no events: with no reader it is idle, and makes room for 'b'.)
    await expect(log.publish('b', 0)).resolves.toBeTypeOf('string');
    expect(outlet.values).toEqual([]);
    expect(outlet.failures).toEqual([cause]);
    pump.stop();
    expect(outlet.completes).toBe(0);
  });

  // start() in memoryEventLog.ts calls sink.value(first) outside the try/catch that deliver()
  // has: the throw escapes [PUSH_SOURCE] after the reader was added to its topic, and nothing
  // removes it. (pumpSource's sink never throws, so the server's path is not affected.)
  test('pushed directly, throwing on the first item (the checkpoint): reported once, and the sink gets nothing more', async () => {
    const log = newLog();
    const sink = new FakeOutlet();
    const cause = new Error('cannot serialize');
    sink.policy = () => {
      throw cause;
    };
    const source = pushSide(log.subscribe('t'));
    let thrown = 0;
    try {
      source[PUSH_SOURCE](sink, {});
    } catch (error) {
      expect(error).toBe(cause);
      thrown++;
    }
    // Were it still subscribed, a sink that can take values now would get the next one.
    sink.policy = () => true;
    await expect(log.publish('t', 1)).resolves.toBeTypeOf('string');
    expect({ reported: thrown + sink.failures.length, valuesAfterwards: sink.values }).toEqual({
      reported: 1,
      valuesAfterwards: [],
    });
  });

  test('pumped, throwing during replay: fail() once, the rest of the replay is not delivered', async () => {
    const log = newLog();
    const [from] = await publishAll(log, 't', range(0, 5));
    const outlet = new FakeOutlet();
    const cause = new Error('cannot serialize');
    outlet.policy = (value) => {
      if (isTrackedEnvelope(value) && value[1] === 3) throw cause;
      return true;
    };
    pumpSource({ kind: 'iterable', value: log.subscribe('t', { lastEventId: from }) }, outlet);
    expect(outlet.data).toEqual([1, 2]);
    expect(outlet.failures).toEqual([cause]);
    await log.publish('t', 6);
    expect(outlet.data).toEqual([1, 2]);
    expect(outlet.failures).toHaveLength(1);
  });
});

describe('stop', () => {
  test('no value reaches the outlet after stop(); stopping twice is harmless; the topic still serves', async () => {
    const log = newLog();
    const { outlet, pump } = pumped(log, 't');
    const other = pumped(log, 't').outlet;
    await log.publish('t', 1);
    pump.stop();
    pump.stop();
    await log.publish('t', 2);
    expect(outlet.data).toEqual([1]);
    expect(outlet.completes).toBe(0);
    expect(outlet.failures).toEqual([]);
    expect(other.data).toEqual([1, 2]);

    const later = pumped(log, 't').outlet;
    expect(isCheckpoint(later.values[0])).toBe(true);
    await log.publish('t', 3);
    expect(later.data).toEqual([3]);
    expect(outlet.data).toEqual([1]);
  });

  test('stopped while full: draining afterwards delivers nothing', async () => {
    const log = newLog();
    const { outlet, pump } = pumped(log, 't');
    outlet.policy = fullAfter(1);
    await publishAll(log, 't', [1, 2, 3]);
    expect(outlet.data).toEqual([1]);
    pump.stop();
    await outlet.drain();
    await log.publish('t', 4);
    expect(outlet.data).toEqual([1]);
    expect(outlet.completes).toBe(0);
    expect(outlet.failures).toEqual([]);
  });

  test('a pushed reader holds its topic; stop() lets it go', async () => {
    const log = newLog({ maxTopics: 1 });
    const { pump } = pumped(log, 'a');
    // 'a' has a reader: it is not idle, so there is no room for 'b'.
    await expect(log.publish('b', 1)).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    pump.stop();
    await expect(log.publish('b', 1)).resolves.toBeTypeOf('string');
  });

  test('a handle stopped directly: no value reaches the sink, and its topic is let go', async () => {
    const log = newLog({ maxTopics: 1 });
    const { sink, handle } = pushed(log, 'a');
    handle.stop();
    handle.stop();
    await expect(log.publish('b', 1)).resolves.toBeTypeOf('string');
    expect(sink.values).toHaveLength(1); // the checkpoint
    expect(sink.completes).toBe(0);
  });

  test('the outlet stopping the pump from inside value(): nothing more reaches it', async () => {
    const log = newLog();
    const outlet = new FakeOutlet();
    const holder: { pump?: Pump } = {};
    outlet.policy = (value) => {
      if (isTrackedEnvelope(value) && value[1] === 1) holder.pump!.stop();
      return true;
    };
    holder.pump = pumpSource({ kind: 'iterable', value: log.subscribe('t') }, outlet);
    const other = pumped(log, 't').outlet;
    await publishAll(log, 't', [1, 2]);
    expect(outlet.data).toEqual([1]);
    expect(other.data).toEqual([1, 2]);
    expect(outlet.failures).toEqual([]);
    expect(outlet.completes).toBe(0);
  });

  test('the outlet stopping the pump mid-replay: the rest of the replay is not delivered', async () => {
    const log = newLog();
    const [from] = await publishAll(log, 't', range(0, 9));
    const outlet = new FakeOutlet();
    const holder: { pump?: Pump } = {};
    const subscription = log.subscribe('t', { lastEventId: from });
    // Replay starts synchronously inside pumpSource: pause it until the pump exists.
    outlet.policy = fullAfter(1);
    holder.pump = pumpSource({ kind: 'iterable', value: subscription }, outlet);
    expect(outlet.data).toEqual([1]);
    outlet.policy = (value) => {
      if (isTrackedEnvelope(value) && value[1] === 3) holder.pump!.stop();
      return true;
    };
    await outlet.drain();
    expect(outlet.data).toEqual([1, 2, 3]);
    await log.publish('t', 10);
    expect(outlet.data).toEqual([1, 2, 3]);
  });
});

describe('log.close()', () => {
  test('every pushed outlet, full or not, is completed once and never failed', async () => {
    const log = newLog();
    const outlets = Array.from({ length: 5 }, (_, i) => pumped(log, `t${i % 2}`).outlet);
    const full = pumped(log, 't0').outlet;
    full.policy = fullAfter(1);
    const direct = pushed(log, 't1').sink;
    await log.publish('t0', 1);
    await log.publish('t0', 2);
    expect(full.waitingForDrain).toBe(true);

    await log.close();
    for (const outlet of [...outlets, full, direct]) {
      expect(outlet.completes).toBe(1);
      expect(outlet.failures).toEqual([]);
    }
    await full.drain();
    expect(full.data).toEqual([1]);
    expect(full.completes).toBe(1);
    await expect(log.publish('t0', 3)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    for (const outlet of [...outlets, full, direct]) expect(outlet.completes).toBe(1);
  });

  test('subscribing after close: completed at once, nothing delivered', () => {
    const log = newLog();
    void log.close();
    const { outlet } = pumped(log, 't');
    expect(outlet.completes).toBe(1);
    expect(outlet.values).toEqual([]);
    expect(outlet.failures).toEqual([]);
    const { sink } = pushed(log, 't');
    expect(sink.completes).toBe(1);
    expect(sink.values).toEqual([]);
  });
});

describe('signals', () => {
  test("the subscription's own signal aborting completes the pushed subscription", async () => {
    const log = newLog();
    const user = new AbortController();
    const consumer = new AbortController();
    const { outlet } = pumped(log, 't', { signal: user.signal }, consumer.signal);
    const other = pumped(log, 't').outlet;
    await log.publish('t', 1);
    user.abort();
    expect(outlet.completes).toBe(1);
    await log.publish('t', 2);
    expect(outlet.data).toEqual([1]);
    expect(outlet.completes).toBe(1);
    expect(outlet.failures).toEqual([]);
    expect(other.data).toEqual([1, 2]);
  });

  test('aborting it while the outlet is full completes it; draining afterwards delivers nothing', async () => {
    const log = newLog();
    const user = new AbortController();
    const { outlet } = pumped(log, 't', { signal: user.signal }, new AbortController().signal);
    outlet.policy = fullAfter(1);
    await publishAll(log, 't', [1, 2]);
    user.abort();
    expect(outlet.completes).toBe(1);
    await outlet.drain();
    expect(outlet.data).toEqual([1]);
    expect(outlet.completes).toBe(1);
  });

  test('a signal already aborted: completed at once, nothing delivered', () => {
    const log = newLog();
    const user = new AbortController();
    user.abort();
    const { outlet } = pumped(log, 't', { signal: user.signal }, new AbortController().signal);
    expect(outlet.completes).toBe(1);
    expect(outlet.values).toEqual([]);
  });

  test("the subscription's own signal is watched with one listener, removed on stop", () => {
    const log = newLog();
    const user = new AbortController();
    const add = vi.spyOn(user.signal, 'addEventListener');
    const remove = vi.spyOn(user.signal, 'removeEventListener');
    const { pump } = pumped(log, 't', { signal: user.signal }, new AbortController().signal);
    expect(add).toHaveBeenCalledTimes(1);
    expect(add.mock.calls[0]![0]).toBe('abort');
    expect(remove).not.toHaveBeenCalled();
    pump.stop();
    expect(remove).toHaveBeenCalledTimes(1);
    expect(remove.mock.calls[0]!.slice(0, 2)).toEqual(add.mock.calls[0]!.slice(0, 2));
  });

  test("the consumer's signal gets no listener on the push path; the pull path still ends when it aborts", async () => {
    const log = newLog();
    const consumer = new AbortController();
    const add = vi.spyOn(consumer.signal, 'addEventListener');

    // Pushed: the signal given to the procedure is the consumer's own.
    const { outlet, pump } = pumped(log, 't', { signal: consumer.signal }, consumer.signal);
    await log.publish('t', 1);
    expect(outlet.data).toEqual([1]);
    expect(add).toHaveBeenCalledTimes(0);
    // The consumer aborts, then stops: no listener was needed.
    consumer.abort();
    pump.stop();
    await log.publish('t', 2);
    expect(outlet.data).toEqual([1]);
    expect(outlet.completes).toBe(0);
    expect(add).toHaveBeenCalledTimes(0);

    // Pulled with that same kind of signal, the log does watch it (and the spy sees it).
    const pullConsumer = new AbortController();
    const pullAdd = vi.spyOn(pullConsumer.signal, 'addEventListener');
    const received: unknown[] = [];
    const gotEvent = deferred();
    const reading = (async () => {
      for await (const value of log.subscribe('t', { signal: pullConsumer.signal })) {
        received.push(value);
        if (isTrackedEnvelope(value)) gotEvent.resolve();
      }
    })();
    // The generator's body ran in its first next(): its cursor is at the head already.
    await log.publish('t', 3);
    await gotEvent.promise;
    pullConsumer.abort();
    await reading;
    expect(received.map(itemOf).map((item) => item.kind)).toEqual(['checkpoint', 'event']);
    expect(pullAdd.mock.calls.length).toBeGreaterThan(0);
  });
});

describe('one consumer per subscription', () => {
  test('iterated first (an app peeked at it), then returned: pumped by pulling; pushing it directly throws', async () => {
    const log = newLog();
    const iterated = log.subscribe('t');
    const step = iterated.next();
    expect(pushSourceOf(iterated)).toBeUndefined();
    expect(() => (iterated as unknown as PushSource)[PUSH_SOURCE](new FakeOutlet(), {})).toThrow(
      /already being consumed/,
    );
    expect(isCheckpoint((await step).value)).toBe(true);

    const outlet = new FakeOutlet();
    const pump = pumpSource({ kind: 'iterable', value: iterated }, outlet);
    await log.publish('t', 1);
    await vi.waitFor(() => expect(outlet.data).toEqual([1]));
    expect(outlet.failures).toEqual([]);
    pump.stop();
  });

  test('pushed, then pulled: next() and for-await fail; a second push throws', async () => {
    const log = newLog();
    const subscription = log.subscribe('t');
    const { outlet } = (() => {
      const outlet = new FakeOutlet();
      pumpSource({ kind: 'iterable', value: subscription }, outlet);
      return { outlet };
    })();
    await expect(async () => subscription.next()).rejects.toThrow(/already being pushed/);
    await expect(async () => {
      for await (const _ of subscription) break;
    }).rejects.toThrow(/already being pushed/);
    expect(pushSourceOf(subscription)).toBeUndefined();
    expect(() => (subscription as unknown as PushSource)[PUSH_SOURCE](new FakeOutlet(), {})).toThrow(
      /already being consumed/,
    );
    // The push that won is unaffected.
    void log.publish('t', 1);
    expect(outlet.data).toEqual([1]);
  });

  test('never consumed: return() and discardSource end it without error', async () => {
    const log = newLog();
    const subscription = log.subscribe('t');
    await expect(subscription.return(undefined)).resolves.toEqual({ done: true, value: undefined });
    expect(() => discardSource({ kind: 'iterable', value: log.subscribe('t') })).not.toThrow();
    // Nothing was left reading the topic.
    await expect(log.publish('t', 1)).resolves.toBeTypeOf('string');
  });
});

describe('the pull path', () => {
  test('for-await yields the checkpoint, then tracked envelopes (the same ones pushed readers get)', async () => {
    const log = newLog();
    const head = await log.publish('t', 'before');
    const pushedOutlet = pumped(log, 't').outlet;
    const abort = new AbortController();
    const received: unknown[] = [];
    const gotTwo = deferred();
    const reading = (async () => {
      for await (const value of log.subscribe('t', { signal: abort.signal })) {
        received.push(value);
        if (received.length === 3) gotTwo.resolve();
      }
    })();
    const ids = await publishAll(log, 't', ['a', 'b']);
    await gotTwo.promise;
    abort.abort();
    await reading;
    expect(received.map(itemOf)).toEqual([
      { kind: 'checkpoint', lastEventId: head },
      { kind: 'event', id: ids[0], data: 'a' },
      { kind: 'event', id: ids[1], data: 'b' },
    ]);
    expect(received.slice(1)).toEqual(pushedOutlet.values.slice(1));
    expect(received[1]).toBe(pushedOutlet.values[1]);
  });
});
