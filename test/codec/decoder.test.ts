import { describe, expect, it } from 'vitest';
import { createSSEDecoder } from '../../src/codec/decoder.js';
import type { SSEDecoder, SSEDecoderOptions, SSEMessage } from '../../src/codec/decoder.js';
import { SSEDecodeError } from '../../src/codec/errors.js';
import { concatBytes } from './bytes.js';

const utf8 = new TextEncoder();
const bytes = (text: string): Uint8Array => utf8.encode(text);
const concat = concatBytes;

interface Harness {
  decoder: SSEDecoder;
  events: SSEMessage[];
  retries: number[];
  comments: string[];
  /** Everything the decoder reported, in order. */
  log: unknown[];
}

function harness(options: Partial<Omit<SSEDecoderOptions, 'onEvent' | 'onRetry' | 'onComment'>> = {}): Harness {
  const events: SSEMessage[] = [];
  const retries: number[] = [];
  const comments: string[] = [];
  const log: unknown[] = [];
  const decoder = createSSEDecoder({
    ...options,
    onEvent: (message) => {
      events.push(message);
      log.push(['event', message]);
    },
    onRetry: (ms) => {
      retries.push(ms);
      log.push(['retry', ms]);
    },
    onComment: (text) => {
      comments.push(text);
      log.push(['comment', text]);
    },
  });
  return { decoder, events, retries, comments, log };
}

/** Feeds chunks then ends the stream; returns what was reported. */
function run(chunks: Array<Uint8Array | string>, options: Parameters<typeof harness>[0] = {}): Harness {
  const h = harness(options);
  for (const chunk of chunks) h.decoder.push(chunk);
  h.decoder.end();
  return h;
}

const msg = (data: string, rest: Partial<SSEMessage> = {}): SSEMessage => ({
  event: 'message',
  data,
  id: undefined,
  lastEventId: '',
  ...rest,
});

describe('decoding input', () => {
  it('dispatches a simple event with the default type and no id', () => {
    expect(run(['data: hello\n\n']).events).toEqual([msg('hello')]);
  });

  it('decodes bytes as UTF-8, including characters cut between chunks', () => {
    const stream = bytes('data: €😀\n\n');
    const chunks = Array.from(stream, (b) => Uint8Array.of(b));
    expect(run(chunks).events).toEqual([msg('€😀')]);
  });

  it('turns invalid bytes into U+FFFD', () => {
    const stream = concat(bytes('data: a'), [0xff], bytes('b'), [0xe2, 0x82], bytes('\n\n'));
    expect(run([stream]).events).toEqual([msg('a\uFFFDb\uFFFD')]);
  });

  it('takes string chunks as already decoded', () => {
    expect(run(['data: \uFFFD€', '😀\n\n']).events).toEqual([msg('\uFFFD€😀')]);
  });

  it('keeps a lone surrogate cut between string chunks together with its pair', () => {
    const emoji = '😀';
    expect(run([`data: ${emoji[0]!}`, `${emoji[1]!}\n\n`]).events).toEqual([msg(emoji)]);
  });

  it('turns a UTF-8 sequence left incomplete before a string chunk into U+FFFD', () => {
    expect(run([concat(bytes('data: a'), [0xe2, 0x82]), 'b\n\n']).events).toEqual([msg('a\uFFFDb')]);
  });
});

describe('byte order mark', () => {
  it('skips a BOM sent as bytes', () => {
    expect(run([concat([0xef, 0xbb, 0xbf], bytes('data: x\n\n'))]).events).toEqual([msg('x')]);
  });

  it('skips a BOM whose bytes are cut across chunks', () => {
    const chunks = [Uint8Array.of(0xef), Uint8Array.of(0xbb), concat([0xbf], bytes('data: x\n\n'))];
    expect(run(chunks).events).toEqual([msg('x')]);
  });

  it('skips a BOM sent as an already-decoded U+FEFF', () => {
    expect(run(['\uFEFFdata: x\n\n']).events).toEqual([msg('x')]);
  });

  it('skips a BOM that follows empty chunks', () => {
    expect(run(['', new Uint8Array(0), '\uFEFFdata: x\n\n']).events).toEqual([msg('x')]);
  });

  it('skips only the first BOM: a second one makes the first field name unknown', () => {
    expect(run(['\uFEFF\uFEFFdata: a\n\ndata: b\n\n']).events).toEqual([msg('b')]);
    const doubled = concat([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], bytes('data: a\n\ndata: b\n\n'));
    expect(run([doubled]).events).toEqual([msg('b')]);
  });

  it('treats U+FEFF after the stream start as ordinary text', () => {
    expect(run(['data: a\n\n', '\uFEFFdata: b\n\ndata: \uFEFFc\n\n']).events).toEqual([msg('a'), msg('\uFEFFc')]);
  });
});

describe('line endings', () => {
  it.each([
    ['LF', '\n'],
    ['CR', '\r'],
    ['CRLF', '\r\n'],
  ])('accepts %s', (_name, eol) => {
    const stream = `event: e${eol}data: a${eol}data: b${eol}${eol}data: c${eol}${eol}`;
    expect(run([stream]).events).toEqual([msg('a\nb', { event: 'e' }), msg('c')]);
  });

  it('accepts mixed endings in one stream', () => {
    expect(run(['data: a\rdata: b\ndata: c\r\n\r\ndata: d\n\r']).events).toEqual([msg('a\nb\nc'), msg('d')]);
  });

  it('takes a CR ending one chunk and a LF starting the next as one line ending', () => {
    // An empty line in between would dispatch 'a' and 'b' separately.
    expect(run(['data: a\r', '\ndata: b\r', '\n\r', '\n']).events).toEqual([msg('a\nb')]);
  });

  it('takes a CR ending a chunk followed by other text as a line ending', () => {
    expect(run(['data: a\r', 'data: b\r', '\r']).events).toEqual([msg('a\nb')]);
  });

  it('processes a line ended by CR without waiting for the next chunk', () => {
    const h = harness();
    h.decoder.push('retry: 5\r');
    expect(h.retries).toEqual([5]);
    h.decoder.push('data: x\r\r');
    expect(h.events).toEqual([msg('x')]);
  });

  it('handles a chunk that is only the LF of a CRLF', () => {
    expect(run(['data: a\r', '\n', '\n']).events).toEqual([msg('a')]);
  });

  it('scans many lines with a single far-away CR', () => {
    const stream = 'data: x\n\n'.repeat(50_000) + 'data: last\r\r';
    const { events } = run([stream]);
    expect(events).toHaveLength(50_001);
    expect(events[50_000]).toEqual(msg('last'));
  });
});

describe('dispatch on an empty line', () => {
  it('does not dispatch when no data line was seen, and resets the event type', () => {
    expect(run(['event: ignored\n\ndata: x\n\n']).events).toEqual([msg('x')]);
  });

  it('does not dispatch on consecutive empty lines', () => {
    expect(run(['\n\n\r\n\r\rdata: x\n\n\n\n']).events).toEqual([msg('x')]);
  });

  it('dispatches an event whose only data line is empty, with empty data', () => {
    expect(run(['data:\n\n', 'data\n\n', 'data: \n\n']).events).toEqual([msg(''), msg(''), msg('')]);
  });

  it('removes exactly one trailing LF from the data buffer', () => {
    expect(run(['data: a\ndata:\n\n', 'data:\ndata:\n\n']).events).toEqual([msg('a\n'), msg('\n')]);
  });

  it('resets the data and event type after dispatch', () => {
    expect(run(['event: e\ndata: a\n\ndata: b\n\n']).events).toEqual([msg('a', { event: 'e' }), msg('b')]);
  });
});

describe('comments', () => {
  it('reports the text after the colon with one leading space removed', () => {
    expect(run([':plain\n: spaced\n:  two\n:\n: \n:a:b\n']).comments).toEqual([
      'plain',
      'spaced',
      ' two',
      '',
      '',
      'a:b',
    ]);
  });

  it('does not affect events', () => {
    expect(run(['data: a\n: data: b\ndata: c\n\n']).events).toEqual([msg('a\nc')]);
  });

  it('works without an onComment callback', () => {
    const events: SSEMessage[] = [];
    const decoder = createSSEDecoder({ onEvent: (m) => events.push(m) });
    decoder.push(': hi\ndata: x\n\n');
    expect(events).toEqual([msg('x')]);
  });
});

describe('fields', () => {
  it('removes one space after the colon, and only one', () => {
    expect(run(['data:x\n\ndata: x\n\ndata:  x\n\n']).events).toEqual([msg('x'), msg('x'), msg(' x')]);
  });

  it('splits the field at the first colon', () => {
    expect(run(['data: a: b:c\n\n']).events).toEqual([msg('a: b:c')]);
  });

  it('takes a line without colon as a field name with an empty value', () => {
    expect(run(['data\ndata\n\n']).events).toEqual([msg('\n')]);
    expect(run(['event: e\nevent\ndata: x\n\n']).events).toEqual([msg('x')]);
  });

  it('reads lines without colon between lines with one, in one chunk and in the same chunk again', () => {
    const chunk = 'data\nid: 7\ndata: a:b\nevent\nretry\n\n';
    const { events } = run([chunk, chunk]);
    const expected = msg('\na:b', { id: '7', lastEventId: '7' });
    expect(events).toEqual([expected, expected]);
  });

  it('finds a colon in a line joined from chunks, then in the rest of the last chunk', () => {
    expect(run(['da', 'ta: a', '\nid', '\ndata: b\n\n']).events).toEqual([msg('a\nb', { id: '', lastEventId: '' })]);
  });

  it('scans many lines without colon before a far-away one in linear time', () => {
    // Each line searching the rest of the text for its colon would take ~10^10 steps here.
    const stream = 'data\n'.repeat(100_000) + '\ndata: last\n\n';
    const { events } = run([stream]);
    expect(events).toHaveLength(2);
    expect(events[1]).toEqual(msg('last'));
  });

  it('matches field names case-sensitively and exactly', () => {
    expect(run(['Data: a\nDATA: b\ndata : c\n data: d\ndata: e\n\n']).events).toEqual([msg('e')]);
  });

  it('ignores unknown fields', () => {
    expect(run(['foo: bar\ndata: x\nbaz\n\n']).events).toEqual([msg('x')]);
  });

  it('sets the event type with event, the last one winning', () => {
    expect(run(['event: a\nevent: b\ndata: x\n\n']).events).toEqual([msg('x', { event: 'b' })]);
  });

  it("uses 'message' when the event type is empty", () => {
    expect(run(['event: a\nevent:\ndata: x\n\n']).events).toEqual([msg('x')]);
  });

  it('keeps spaces and colons inside the event type', () => {
    expect(run(['event:  a b:c\ndata: x\n\n']).events).toEqual([msg('x', { event: ' a b:c' })]);
  });
});

describe('id', () => {
  it('sets the id of the event and the last event ID', () => {
    expect(run(['id: 1\ndata: x\n\n']).events).toEqual([msg('x', { id: '1', lastEventId: '1' })]);
  });

  it('keeps the last event ID across events, but not the per-event id', () => {
    expect(run(['id: 1\ndata: a\n\ndata: b\n\n']).events).toEqual([
      msg('a', { id: '1', lastEventId: '1' }),
      msg('b', { lastEventId: '1' }),
    ]);
  });

  it('resets the last event ID with an empty id', () => {
    expect(run(['id: 1\ndata: a\n\nid:\ndata: b\n\nid\ndata: c\n\n']).events).toEqual([
      msg('a', { id: '1', lastEventId: '1' }),
      msg('b', { id: '', lastEventId: '' }),
      msg('c', { id: '', lastEventId: '' }),
    ]);
  });

  it('ignores an id containing NUL entirely', () => {
    expect(run(['id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n']).events).toEqual([
      msg('a', { id: '1', lastEventId: '1' }),
      msg('b', { lastEventId: '1' }),
    ]);
  });

  it('sets the last event ID even in an event that is not dispatched', () => {
    expect(run(['id: 5\n\ndata: x\n\n']).events).toEqual([msg('x', { lastEventId: '5' })]);
  });

  // WHATWG HTML, event stream interpretation: "If the field name is "id" … set the last event
  // ID buffer to the field value", and only when the blank line dispatches: "Set the last
  // event ID string of the event source to the value of the last event ID buffer". An event
  // cut off by the end of the stream is never dispatched, so its id never becomes the last
  // event ID (Chromium's EventSource behaves so too).
  it('does not set the last event ID from an event that is never completed', () => {
    const h = harness();
    h.decoder.push('id: 9\ndata: lost');
    h.decoder.end();
    h.decoder.push('data: next\n\n');
    expect(h.events).toEqual([msg('next', { lastEventId: '' })]);
  });

  it('starts from the lastEventId option', () => {
    expect(run(['data: a\n\nid: 2\ndata: b\n\n'], { lastEventId: '1' }).events).toEqual([
      msg('a', { lastEventId: '1' }),
      msg('b', { id: '2', lastEventId: '2' }),
    ]);
  });

  it('keeps spaces and colons inside the id', () => {
    expect(run(['id:  a:b \ndata: x\n\n']).events).toEqual([msg('x', { id: ' a:b ', lastEventId: ' a:b ' })]);
  });
});

describe('retry', () => {
  it('reports a value made of ASCII digits', () => {
    expect(run(['retry: 1000\nretry:0\nretry: 007\n']).retries).toEqual([1000, 0, 7]);
  });

  it.each([
    ['empty', 'retry:'],
    ['no colon', 'retry'],
    ['a second space', 'retry:  10'],
    ['a sign', 'retry: -1'],
    ['a plus sign', 'retry: +1'],
    ['a fraction', 'retry: 1.5'],
    ['an exponent', 'retry: 1e3'],
    ['a trailing space', 'retry: 10 '],
    ['a letter', 'retry: 10a'],
    ['non-ASCII digits', 'retry: ١٢'],
    ['fullwidth digits', 'retry: １２'],
  ])('ignores a value with %s', (_name, line) => {
    const h = run([`${line}\ndata: x\n\n`]);
    expect(h.retries).toEqual([]);
    expect(h.events).toEqual([msg('x')]);
  });

  it('parses very long digit strings like parseInt', () => {
    const digits = '9'.repeat(400);
    expect(run([`retry: ${digits}\n`]).retries).toEqual([Infinity]);
  });

  it('does not dispatch anything by itself', () => {
    expect(run(['retry: 10\n\n']).events).toEqual([]);
  });

  it('is reported in stream order with events and comments', () => {
    expect(run(['data: a\n\nretry: 1\n: c\ndata: b\n\n']).log).toEqual([
      ['event', msg('a')],
      ['retry', 1],
      ['comment', 'c'],
      ['event', msg('b')],
    ]);
  });
});

describe('end()', () => {
  it('discards an event without its terminating empty line', () => {
    expect(run(['data: a\n\ndata: b\n']).events).toEqual([msg('a')]);
    expect(run(['data: a\n\ndata: b\r']).events).toEqual([msg('a')]);
  });

  it('discards an unterminated last line', () => {
    const h = run(['data: a\n\nretry: 5']);
    expect(h.events).toEqual([msg('a')]);
    expect(h.retries).toEqual([]);
  });

  it('flushes the UTF-8 decoder so that cut bytes do not leak into the next stream', () => {
    const h = harness();
    h.decoder.push(concat(bytes('data: a\n\n'), [0xe2, 0x82]));
    h.decoder.end();
    h.decoder.push(bytes('data: b\n\n'));
    expect(h.events).toEqual([msg('a'), msg('b')]);
  });

  it('leaves the decoder ready for a new stream: BOM skipped again, last event ID kept', () => {
    const h = harness();
    h.decoder.push('\uFEFFid: 1\ndata: a\n\nevent: e\ndata: partial');
    h.decoder.end();
    h.decoder.push('\uFEFFdata: b\n\n');
    expect(h.events).toEqual([msg('a', { id: '1', lastEventId: '1' }), msg('b', { lastEventId: '1' })]);
  });
});

describe('reset()', () => {
  // The last event ID is set only when an event is dispatched (WHATWG HTML: "set the last
  // event ID string of the event source to the value of the last event ID buffer" is the
  // first step of dispatching): the `id` of the dropped partial event is dropped with it.
  it('drops the partial event (its id too) and line, and keeps the last dispatched event ID', () => {
    const h = harness({ lastEventId: 'x' });
    h.decoder.push('id: 3\nevent: e\ndata: a\ndata: par');
    h.decoder.reset();
    h.decoder.push('tial\n\ndata: b\n\n');
    expect(h.events).toEqual([msg('b', { lastEventId: 'x' })]);
  });

  // Same rule: an `id` line whose block never reached its blank line was never dispatched.
  it('drops the per-event id, and does not make it the last event ID', () => {
    const h = harness();
    h.decoder.push('id: 3\n');
    h.decoder.reset();
    h.decoder.push('data: b\n\n');
    expect(h.events).toEqual([msg('b', { lastEventId: '' })]);
  });

  it('keeps the last event ID of a dispatched event, with or without data', () => {
    const h = harness();
    h.decoder.push('id: 1\ndata: a\n\nid: 2\n\nid: 3\ndata: cut');
    h.decoder.reset();
    h.decoder.push('data: b\n\n');
    expect(h.events).toEqual([msg('a', { id: '1', lastEventId: '1' }), msg('b', { lastEventId: '2' })]);
  });

  it('allows a BOM again', () => {
    const h = harness();
    h.decoder.push('data: a\n\n');
    h.decoder.reset();
    h.decoder.push(concat([0xef, 0xbb, 0xbf], bytes('data: b\n\n')));
    expect(h.events).toEqual([msg('a'), msg('b')]);
  });
});

describe('maxLineLength', () => {
  it('rejects a line growing beyond the limit, with code and limit', () => {
    const h = harness({ maxLineLength: 10 });
    h.decoder.push('data: 1234');
    let error: unknown;
    try {
      h.decoder.push('5');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SSEDecodeError);
    expect(error).toMatchObject({ name: 'SSEDecodeError', code: 'LINE_TOO_LONG', limit: 10 });
  });

  it('accepts a line of exactly the limit', () => {
    expect(run(['data: 1234\n\n'], { maxLineLength: 10 }).events).toEqual([msg('1234')]);
    expect(run(['data: ', '1234', '\n\n'], { maxLineLength: 10 }).events).toEqual([msg('1234')]);
  });

  it('applies to a complete line within one chunk as well, after earlier events', () => {
    const h = harness({ maxLineLength: 10 });
    expect(() => h.decoder.push('data: a\n\ndata: 12345\n\n')).toThrow(SSEDecodeError);
    expect(h.events).toEqual([msg('a')]);
  });

  it('applies to every kind of line, comments included', () => {
    expect(() => run([`:${'x'.repeat(11)}\n`], { maxLineLength: 10 })).toThrow(SSEDecodeError);
  });

  it('makes the decoder unusable until reset()', () => {
    const h = harness({ maxLineLength: 10 });
    expect(() => h.decoder.push('data: 12345')).toThrow(SSEDecodeError);
    expect(() => h.decoder.push('\n\ndata: ok\n\n')).toThrow(SSEDecodeError);
    expect(h.events).toEqual([]);
    h.decoder.reset();
    h.decoder.push('data: ok\n\n');
    expect(h.events).toEqual([msg('ok')]);
  });

  it('defaults to 1 MiB', () => {
    const body = 'x'.repeat(1_048_576 - 'data: '.length);
    expect(run([`data: ${body}\n\n`]).events[0]?.data).toBe(body);
    expect(() => run([`data: ${body}x\n\n`])).toThrow(expect.objectContaining({ limit: 1_048_576 }));
  });

  it.each([-1, Number.NaN])('refuses %s as a limit', (limit) => {
    expect(() => createSSEDecoder({ onEvent: () => undefined, maxLineLength: limit })).toThrow(RangeError);
  });

  it('can be disabled with Infinity', () => {
    const body = 'y'.repeat(1_100_000);
    expect(run([`data: ${body}`, '\n\n'], { maxLineLength: Infinity }).events[0]?.data).toBe(body);
  });
});

describe('scaling', () => {
  it('decodes a 4 MiB line delivered in 64-byte chunks', () => {
    const size = 4 * 1024 * 1024;
    // A repeating non-ASCII pattern so that byte chunks also cut UTF-8 sequences.
    const body = 'abc€😀'.repeat(Math.ceil(size / 7)).slice(0, size);
    const stream = bytes(`data: ${body}\n\n`);
    const h = harness({ maxLineLength: 8 * 1024 * 1024 });
    for (let at = 0; at < stream.length; at += 64) h.decoder.push(stream.subarray(at, at + 64));
    expect(h.events).toHaveLength(1);
    expect(h.events[0]?.data.length).toBe(body.length);
    expect(h.events[0]?.data === body).toBe(true);
  });

  it('decodes a 4 MiB line delivered in 64-character string chunks', () => {
    const body = 'z'.repeat(4 * 1024 * 1024);
    const stream = `data: ${body}\r\n\r\n`;
    const h = harness({ maxLineLength: 8 * 1024 * 1024 });
    for (let at = 0; at < stream.length; at += 64) h.decoder.push(stream.slice(at, at + 64));
    expect(h.events).toHaveLength(1);
    expect(h.events[0]?.data === body).toBe(true);
  });

  it('decodes 100,000 tiny events in one chunk', () => {
    let stream = '';
    for (let i = 0; i < 100_000; i++) stream += `id:${i}\ndata:${i}\n\n`;
    const { events } = run([stream]);
    expect(events).toHaveLength(100_000);
    expect(events[99_999]).toEqual(msg('99999', { id: '99999', lastEventId: '99999' }));
    expect(events.every((e, i) => e.data === String(i))).toBe(true);
  });
});

describe('independence from chunk boundaries', () => {
  const representative = [
    // BOM, CRLF, multi-byte characters, a comment, CR-only endings, a retry and an id reset.
    '\uFEFFevent: greet\r\nid: 1\r\ndata: €\r\ndata:  😀\r\n\r\n:c😀\rdata: x\r\rretry: 42\nid\ndata: y\n\n',
    // Empty data, a CRLF cut right after the CR of an empty line, an ignored NUL id, an unterminated tail.
    'data:\r\n\r\nid: a\0b\ndata: 😀😀\r\r\nevent: z\ndata: tail',
  ];

  for (const [index, text] of representative.entries()) {
    const encoded = bytes(text);
    const expected = run([encoded]).log;

    it(`stream ${index}: gives the same result as bytes cut at any one or two positions`, () => {
      expect(expected.length).toBeGreaterThanOrEqual(2);
      for (let i = 0; i <= encoded.length; i++) {
        for (let j = i; j <= encoded.length; j++) {
          const chunks = [encoded.subarray(0, i), encoded.subarray(i, j), encoded.subarray(j)];
          expect(run(chunks).log, `cuts at ${i}, ${j}`).toEqual(expected);
        }
      }
    });

    it(`stream ${index}: gives the same result as one-byte chunks`, () => {
      expect(run(Array.from(encoded, (b) => Uint8Array.of(b))).log).toEqual(expected);
    });

    it(`stream ${index}: gives the same result as a string cut at any one or two positions`, () => {
      for (let i = 0; i <= text.length; i++) {
        for (let j = i; j <= text.length; j++) {
          const chunks = [text.slice(0, i), text.slice(i, j), text.slice(j)];
          expect(run(chunks).log, `cuts at ${i}, ${j}`).toEqual(expected);
        }
      }
    });
  }

  it('gives the expected events for the first representative stream', () => {
    const h = run([bytes(representative[0]!)]);
    expect(h.events).toEqual([
      msg('€\n 😀', { event: 'greet', id: '1', lastEventId: '1' }),
      msg('x', { lastEventId: '1' }),
      msg('y', { id: '', lastEventId: '' }),
    ]);
    expect(h.retries).toEqual([42]);
    expect(h.comments).toEqual(['c😀']);
  });

  it('gives the expected events for the second representative stream', () => {
    expect(run([bytes(representative[1]!)]).events).toEqual([msg(''), msg('😀😀')]);
  });
});

describe('maxEventLength', () => {
  it('bounds the data of one event built from many short lines', () => {
    const events: string[] = [];
    const decoder = createSSEDecoder({ onEvent: (m) => events.push(m.data), maxEventLength: 100 });
    decoder.push('data: ok\n\n');
    let thrown: unknown;
    try {
      for (let i = 0; i < 1000; i++) decoder.push('data: 0123456789\n');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SSEDecodeError);
    expect((thrown as SSEDecodeError).code).toBe('EVENT_TOO_LARGE');
    expect((thrown as SSEDecodeError).limit).toBe(100);
    expect(events).toEqual(['ok']);
    // Usable again after reset, with the bound still in force.
    decoder.reset();
    decoder.push('data: again\n\n');
    expect(events).toEqual(['ok', 'again']);
  });

  it('accepts an event exactly at the bound', () => {
    const events: string[] = [];
    const decoder = createSSEDecoder({ onEvent: (m) => events.push(m.data), maxEventLength: 9 });
    decoder.push('data: abcd\ndata: efgh\n\n');
    expect(events).toEqual(['abcd\nefgh']);
  });
});
