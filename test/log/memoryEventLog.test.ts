import { afterEach, expect, test, vi } from 'vitest';
import { createMemoryEventLog } from '../../src/log/memoryEventLog.js';
import { isReset } from '../../src/log/reset.js';
import { eventLogContract } from './eventLogContract.js';

for (const consume of ['pull', 'push'] as const) {
  eventLogContract({ name: 'memory', create: async (opts) => createMemoryEventLog(opts) }, consume);
}

afterEach(() => {
  vi.useRealTimers();
});

test('events older than maxAgeMs are trimmed: a resume from them resets', async () => {
  vi.useFakeTimers();
  const log = createMemoryEventLog({ maxAgeMs: 1_000 });
  const old = await log.publish('t', 'old');
  // The event right after `old` expires too: a reader that had only `old` would miss it.
  await log.publish('t', 'also old');
  vi.advanceTimersByTime(2_000);
  const fresh = await log.publish('t', 'fresh');
  const iterator = log.subscribe('t', { lastEventId: old });
  const first = await iterator.next();
  expect(isReset(first.value)).toBe(true);
  expect(first.value).toMatchObject({ reason: 'trimmed', lastEventId: fresh });
  await iterator.return(undefined);
  await log.close();
});

test('topics are bounded, and idle ones are dropped to make room', async () => {
  vi.useFakeTimers();
  const log = createMemoryEventLog({ maxTopics: 2, maxAgeMs: 1_000 });
  await log.publish('a', 1);
  await log.publish('b', 1);
  await expect(log.publish('c', 1)).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
  // Once a's and b's events have expired and nobody reads them, they make room.
  vi.advanceTimersByTime(2_000);
  await expect(log.publish('c', 1)).resolves.toMatch(new RegExp(`^${log.epoch}-\\d+$`));
  await log.close();
});
