/** The one rule for tracked ids, written by the server and accepted back on a resume. */
import { expect, test } from 'vitest';
import { formatEventId, parseEventId } from '../../src/log/eventId.js';
import { createMemoryEventLog } from '../../src/log/memoryEventLog.js';
import { SSE_SERVER_DEFAULTS } from '../../src/server/options.js';
import { checkTrackedId, trackedIdProblem } from '../../src/server/trackedId.js';

const MAX = SSE_SERVER_DEFAULTS.maxLastEventIdLength;

test.each([
  ['ASCII', 'evt-41', undefined],
  ['non-Latin-1', 'évt-日本-🎉', undefined],
  ['C1 and NBSP', 'a\u0085b\u00a0c', undefined],
  ['at the limit', 'x'.repeat(MAX), undefined],
  ['past the limit', 'x'.repeat(MAX + 1), `it is ${MAX + 1} characters long, more than maxLastEventIdLength (${MAX})`],
  ['TAB', 'a\tb', 'it contains the control character U+0009 at index 1'],
  ['NUL', '\u0000', 'it contains the control character U+0000 at index 0'],
  ['U+001F', 'ok\u001f', 'it contains the control character U+001F at index 2'],
  ['DEL', 'ok\u007f', 'it contains the control character U+007F at index 2'],
  ['a surrogate pair (an emoji)', 'a\ud83c\udf89', undefined],
  ['a lone high surrogate', 'ab\ud83c', 'it contains an unpaired surrogate at index 2 (no UTF-8 form)'],
  ['a lone low surrogate', '\udf89z', 'it contains an unpaired surrogate at index 0 (no UTF-8 form)'],
])('%s', (_name, id, problem) => {
  expect(trackedIdProblem(id, MAX)).toBe(problem);
  if (problem === undefined) expect(checkTrackedId(id, MAX)).toBe(id);
  else
    expect(() => checkTrackedId(id, MAX)).toThrow(
      expect.objectContaining({ code: 'INTERNAL_SERVER_ERROR', message: expect.stringContaining(problem) as unknown }),
    );
});

test("an event log's ids always pass it, at their longest too", async () => {
  const longest = formatEventId('E'.repeat(64), 999_999_999_999_999);
  expect(parseEventId(longest)).not.toBeNull();
  expect(trackedIdProblem(longest, MAX)).toBeUndefined();
  const log = createMemoryEventLog();
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(await log.publish('t', { i }));
  for (const id of ids) expect(trackedIdProblem(id, MAX)).toBeUndefined();
  await log.close();
});
