import { createParser } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { createSSEDecoder } from '../../src/codec/decoder.js';
import type { SSEMessage } from '../../src/codec/decoder.js';
import { encodeComment, encodeEvent, encodeEventBytes, encodeRetry } from '../../src/codec/encoder.js';
import type { SSEEventFields } from '../../src/codec/encoder.js';
import { SSEEncodeError } from '../../src/codec/errors.js';

interface Decoded {
  events: Array<{ event: string; data: string; id: string | undefined }>;
  retries: number[];
  comments: string[];
  lastEventIds: string[];
}

function decodeWithOurs(wire: string | Uint8Array): Decoded {
  const out: Decoded = { events: [], retries: [], comments: [], lastEventIds: [] };
  const decoder = createSSEDecoder({
    onEvent: ({ event, data, id, lastEventId }: SSEMessage) => {
      out.events.push({ event, data, id });
      out.lastEventIds.push(lastEventId);
    },
    onRetry: (ms) => out.retries.push(ms),
    onComment: (text) => out.comments.push(text),
  });
  decoder.push(wire);
  decoder.end();
  return out;
}

/** eventsource-parser as a second opinion; it leaves the event type undefined instead of 'message'. */
function decodeWithOracle(wire: string): Omit<Decoded, 'lastEventIds'> {
  const out: Omit<Decoded, 'lastEventIds'> = { events: [], retries: [], comments: [] };
  const parser = createParser({
    onEvent: ({ event, data, id }) => out.events.push({ event: event ?? 'message', data, id }),
    onRetry: (ms) => out.retries.push(ms),
    onComment: (text) => out.comments.push(text),
  });
  parser.feed(wire);
  return out;
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('encodeEvent', () => {
  it('writes a data-only event', () => {
    expect(encodeEvent({ data: '{"a":1}' })).toBe('data: {"a":1}\n\n');
  });

  it('writes the fields in the order event, id, retry, data', () => {
    expect(encodeEvent({ data: 'x', retry: 10, id: '7', event: 'update' })).toBe(
      'event: update\nid: 7\nretry: 10\ndata: x\n\n',
    );
  });

  it('writes no data line when data is undefined', () => {
    expect(encodeEvent({ id: '7' })).toBe('id: 7\n\n');
    expect(encodeEvent({})).toBe('\n');
  });

  it('writes an empty data as a single data: line', () => {
    expect(encodeEvent({ data: '' })).toBe('data:\n\n');
  });

  it.each([
    ['LF', 'a\nb', 'data: a\ndata: b\n\n'],
    ['CR', 'a\rb', 'data: a\ndata: b\n\n'],
    ['CRLF as one line ending', 'a\r\nb', 'data: a\ndata: b\n\n'],
    ['mixed endings', 'a\r\n\rb\nc\n', 'data: a\ndata: \ndata: b\ndata: c\ndata: \n\n'],
    ['LF CR as two line endings', 'a\n\rb', 'data: a\ndata: \ndata: b\n\n'],
    ['a lone line ending', '\n', 'data: \ndata: \n\n'],
  ])('splits data on %s', (_name, data, wire) => {
    expect(encodeEvent({ data })).toBe(wire);
  });

  it('keeps a leading space of every value', () => {
    const wire = encodeEvent({ event: ' e', id: ' 1', data: ' a\n  b' });
    expect(wire).toBe('event:  e\nid:  1\ndata:  a\ndata:   b\n\n');
    expect(decodeWithOurs(wire).events).toEqual([{ event: ' e', data: ' a\n  b', id: ' 1' }]);
  });

  it.each([
    ['event', { event: 'a\nb' }],
    ['event', { event: 'a\rb' }],
    ['event', { event: 'a\0b' }],
    ['id', { id: 'a\nb' }],
    ['id', { id: 'a\rb' }],
    ['id', { id: '\r\n' }],
    ['id', { id: 'a\0b' }],
    ['retry', { retry: -1 }],
    ['retry', { retry: 1.5 }],
    ['retry', { retry: Number.NaN }],
    ['retry', { retry: Infinity }],
    ['retry', { retry: 2 ** 53 }],
  ] satisfies Array<[string, SSEEventFields]>)('refuses a bad %s: %j', (field, fields) => {
    const error = catchError(() => encodeEvent({ data: 'x', ...fields }));
    expect(error).toBeInstanceOf(SSEEncodeError);
    expect(error).toMatchObject({ name: 'SSEEncodeError', field });
    expect((error as Error).message).toMatch(field);
  });

  it('accepts retry 0 and the largest safe integer', () => {
    expect(encodeEvent({ retry: 0 })).toBe('retry: 0\n\n');
    expect(encodeEvent({ retry: Number.MAX_SAFE_INTEGER })).toBe(`retry: ${Number.MAX_SAFE_INTEGER}\n\n`);
  });

  it('accepts NUL in data, which receivers keep', () => {
    expect(decodeWithOurs(encodeEvent({ data: 'a\0b' })).events[0]?.data).toBe('a\0b');
  });
});

describe('encodeEventBytes', () => {
  it('is the UTF-8 encoding of encodeEvent', () => {
    const fields = { event: 'é', id: '€', data: '😀\nx' };
    expect(encodeEventBytes(fields)).toEqual(new TextEncoder().encode(encodeEvent(fields)));
    expect(decodeWithOurs(encodeEventBytes(fields)).events).toEqual([{ event: 'é', data: '😀\nx', id: '€' }]);
  });

  it('refuses what encodeEvent refuses', () => {
    expect(() => encodeEventBytes({ id: '\n' })).toThrow(SSEEncodeError);
  });
});

describe('encodeRetry', () => {
  it('writes a lone retry field', () => {
    expect(encodeRetry(3000)).toBe('retry: 3000\n\n');
    expect(decodeWithOurs(encodeRetry(3000))).toEqual({ events: [], retries: [3000], comments: [], lastEventIds: [] });
  });

  it.each([-1, 0.5, Number.NaN, 2 ** 60])('refuses %s', (ms) => {
    expect(catchError(() => encodeRetry(ms))).toMatchObject({ name: 'SSEEncodeError', field: 'retry' });
  });
});

describe('encodeComment', () => {
  it('writes a comment line and a blank line', () => {
    expect(encodeComment('keep-alive')).toBe(': keep-alive\n\n');
  });

  it('writes an empty comment as a lone colon', () => {
    expect(encodeComment('')).toBe(':\n\n');
  });

  it.each([
    ['LF', '\n'],
    ['CR', '\r'],
    ['CRLF', '\r\n'],
  ])('cannot inject fields through %s', (_name, eol) => {
    const text = `x${eol}data: evil${eol}${eol}id: 1${eol}retry: 5${eol}event: e${eol}data: more`;
    const wire = encodeComment(text);
    const expectedComments = ['x', 'data: evil', '', 'id: 1', 'retry: 5', 'event: e', 'data: more'];
    const ours = decodeWithOurs(`${wire}data: after\n\n`);
    expect(ours.comments).toEqual(expectedComments);
    expect(ours.retries).toEqual([]);
    expect(ours.events).toEqual([{ event: 'message', data: 'after', id: undefined }]);
    expect(ours.lastEventIds).toEqual(['']);
    expect(decodeWithOracle(`${wire}data: after\n\n`)).toEqual({
      comments: expectedComments,
      retries: [],
      events: [{ event: 'message', data: 'after', id: undefined }],
    });
  });
});

describe('round trip through our decoder and eventsource-parser', () => {
  const events = [undefined, '', 'update', ' spaced', 'é€😀', 'a:b', 'message'];
  const ids = [undefined, '', '42', ' 7', '€😀', 'a: b'];
  const datas = [
    undefined,
    '',
    'x',
    ' lead',
    'a\nb',
    'a\rb',
    'a\r\nb',
    '\n',
    '\r\n\r\n',
    'trail\n',
    '{"a":"b\\n","c":[1,2]}',
    '😀€\0',
    'data: x',
    ':x',
    '\uFEFFbom',
  ];
  const retries = [undefined, 0, 1500];
  const cases: SSEEventFields[] = [];
  for (const event of events)
    for (const id of ids)
      for (const data of datas)
        for (const retry of retries) {
          const fields: SSEEventFields = {};
          if (event !== undefined) fields.event = event;
          if (id !== undefined) fields.id = id;
          if (data !== undefined) fields.data = data;
          if (retry !== undefined) fields.retry = retry;
          cases.push(fields);
        }

  it(`decodes ${cases.length} encoded events back to their fields`, () => {
    for (const fields of cases) {
      const wire = encodeEvent(fields);
      // SSE has no way to carry CR in data: receivers rebuild every line ending as LF.
      const expected =
        fields.data === undefined
          ? []
          : [{ event: fields.event || 'message', data: fields.data.replace(/\r\n?/g, '\n'), id: fields.id }];
      const expectedRetries = fields.retry === undefined ? [] : [fields.retry];
      const ours = decodeWithOurs(wire);
      expect(ours.events, JSON.stringify(fields)).toEqual(expected);
      expect(ours.retries).toEqual(expectedRetries);
      expect(ours.lastEventIds).toEqual(expected.map(() => fields.id ?? ''));
      const bytesOurs = decodeWithOurs(encodeEventBytes(fields));
      expect(bytesOurs).toEqual(ours);
      const oracle = decodeWithOracle(wire);
      expect(oracle.events, JSON.stringify(fields)).toEqual(expected);
      expect(oracle.retries).toEqual(expectedRetries);
    }
  });

  it('decodes a sequence of events, comments and retries in order', () => {
    const wire =
      encodeComment('hello') +
      encodeEvent({ id: '1', data: 'a' }) +
      encodeRetry(10) +
      encodeEvent({ event: 'e', data: 'b\nc' }) +
      encodeEvent({ id: '', data: 'd' });
    const expectedEvents = [
      { event: 'message', data: 'a', id: '1' },
      { event: 'e', data: 'b\nc', id: undefined },
      { event: 'message', data: 'd', id: '' },
    ];
    expect(decodeWithOurs(wire)).toEqual({
      events: expectedEvents,
      retries: [10],
      comments: ['hello'],
      lastEventIds: ['1', '1', ''],
    });
    expect(decodeWithOracle(wire)).toEqual({ events: expectedEvents, retries: [10], comments: ['hello'] });
  });
});
