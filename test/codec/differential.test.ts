/**
 * Differential test: random event streams, cut into random chunks, must decode the same
 * with our decoder as with eventsource-parser (used here only as an oracle).
 *
 * eventsource-parser deviates from the WHATWG rules in a few places, each normalised below
 * where the oracle is fed or read, never by loosening the comparison:
 *
 * 1. Event type: it reports `undefined` where the spec (and we) report `'message'`
 *    (documented in its types). Normalised with `event ?? 'message'`.
 * 2. BOM: it strips the three *characters* U+00EF U+00BB U+00BF from its first chunk (a BOM
 *    mis-decoded as Latin-1), not U+FEFF. So the oracle gets its input from a default
 *    TextDecoder, which strips a leading BOM exactly as the spec says (byte streams), or
 *    the test removes a leading U+FEFF itself (string streams). The generator never
 *    produces U+00EF/U+00BB/U+00BF, so its own stripping never triggers.
 * 3. CR at the end of a chunk: it holds back the line ended by that CR, to see whether a LF
 *    follows, and only looks at it again when a later chunk brings another CR or LF. When
 *    none does before the stream ends (e.g. chunks `retry: 5\r` then `:`), that complete
 *    line is never processed, though for the spec a CR is a complete line ending.
 *    Normalised by moving a CR that ends a chunk to the start of the oracle's next chunk,
 *    and at the very end of the stream by feeding it as CRLF (one line ending, like CR
 *    alone). Only the oracle's chunking changes; the text it sees is the same.
 * 4. End of stream: it has no end(); an unterminated last line stays buffered and is never
 *    processed, which is the spec's behaviour, so nothing is normalised. (Its
 *    `reset({consume: true})` would process that line, against the spec, so it is not
 *    called.)
 * 5. Last event ID: it does not expose the last-event-ID buffer at all (its `id` is the
 *    per-event id, like ours). Our `lastEventId` is compared with a model instead, computed
 *    from the generator's knowledge of which line is what.
 *
 * Reproduce a failure with the seed from its message:
 *   SSE_DIFF_SEED=<seed> SSE_DIFF_COUNT=1 npx vitest run test/codec/differential.test.ts
 */
import { createParser } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { createSSEDecoder } from '../../src/codec/decoder.js';
import { concatBytes } from './bytes.js';

const BASE_SEED = Number(process.env['SSE_DIFF_SEED'] ?? 0x5eed5);
const COUNT = Number(process.env['SSE_DIFF_COUNT'] ?? 100_000);

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const int = (rnd: Random, n: number): number => Math.floor(rnd() * n);
const pick = <T>(rnd: Random, items: readonly T[]): T => items[int(rnd, items.length)]!;

const VALUE_CHARS = ['a', 'Z', ' ', ' ', ':', '\0', '€', '😀', '0', '7', '-', '.', '\uFEFF', 'é', '\t'];
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const RETRY_JUNK = ['', ' 5', '5 ', '-1', '+1', '1.5', '1e3', '١٢', '12a', 'a'];
const UNKNOWN_NAMES = [
  'foo',
  'Data',
  'DATA',
  'dat',
  'datas',
  'data ',
  ' data',
  'Event',
  'ID',
  'retr',
  '\uFEFFdata',
  '€',
  'x:y',
];
const NO_COLON_NAMES = ['data', 'event', 'id', 'retry', 'foo', 'Data'];
// Truncated or stray UTF-8: each becomes U+FFFD, whatever comes next.
const INVALID_BYTES = [[0xff], [0xc3], [0xe2, 0x82], [0x80], [0xf0, 0x9f, 0x98]];
const EOLS = ['\n', '\r', '\r\n'];

type Token = string | number[];
/** What the model of the last event ID needs to know about a line. */
type ModelLine = { kind: 'data' | 'blank' | 'other' } | { kind: 'id'; value: string };

interface GeneratedStream {
  bytes: Uint8Array;
  model: ModelLine[];
  initialLastEventId: string | undefined;
}

function randomValue(rnd: Random, tokens: Token[], allowInvalid: boolean): string {
  let value = '';
  const length = int(rnd, 7);
  for (let i = 0; i < length; i++) {
    if (allowInvalid && rnd() < 0.05) {
      tokens.push(value, pick(rnd, INVALID_BYTES));
      value = '';
    } else {
      value += pick(rnd, VALUE_CHARS);
    }
  }
  tokens.push(value);
  return value;
}

/** Appends `:`, `: ` or `:  ` and returns what it adds to the field value. */
function separator(rnd: Random, tokens: Token[]): string {
  const r = rnd();
  const sep = r < 0.4 ? ':' : r < 0.85 ? ': ' : ':  ';
  tokens.push(sep);
  return sep.slice(1);
}

function generateStream(rnd: Random): GeneratedStream {
  const tokens: Token[] = [];
  const model: ModelLine[] = [];
  const bom = rnd();
  if (bom < 0.25) tokens.push([0xef, 0xbb, 0xbf]);
  else if (bom < 0.3) tokens.push([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]);
  const lineCount = 1 + int(rnd, 14);
  let previousEol = '';
  for (let n = 0; n < lineCount; n++) {
    const r = rnd();
    let line: ModelLine = { kind: 'other' };
    if (r < 0.3) {
      tokens.push('data');
      separator(rnd, tokens);
      randomValue(rnd, tokens, true);
      line = { kind: 'data' };
    } else if (r < 0.36) {
      tokens.push('event');
      separator(rnd, tokens);
      randomValue(rnd, tokens, false);
    } else if (r < 0.44) {
      tokens.push('id');
      const raw = separator(rnd, tokens) + randomValue(rnd, tokens, false);
      line = { kind: 'id', value: raw.startsWith(' ') ? raw.slice(1) : raw };
    } else if (r < 0.5) {
      tokens.push('retry');
      separator(rnd, tokens);
      if (rnd() < 0.6) {
        let digits = '';
        for (let i = 1 + int(rnd, 5); i > 0; i--) digits += pick(rnd, DIGITS);
        tokens.push(digits);
      } else {
        tokens.push(pick(rnd, RETRY_JUNK));
      }
    } else if (r < 0.55) {
      tokens.push(':');
      randomValue(rnd, tokens, true);
    } else if (r < 0.6) {
      const name = pick(rnd, UNKNOWN_NAMES);
      tokens.push(name);
      separator(rnd, tokens);
      randomValue(rnd, tokens, true);
      // At the very start of a stream without BOM, its U+FEFF is the BOM and gets skipped.
      if (name === '\uFEFFdata' && n === 0 && bom >= 0.3) line = { kind: 'data' };
    } else if (r < 0.67) {
      const name = pick(rnd, NO_COLON_NAMES);
      tokens.push(name);
      if (name === 'data') line = { kind: 'data' };
      if (name === 'id') line = { kind: 'id', value: '' };
    } else {
      line = { kind: 'blank' };
    }
    // A second BOM stays in the text and turns the first line into an unknown field.
    if (n === 0 && bom >= 0.25 && bom < 0.3) line = { kind: 'other' };
    const unterminated = n === lineCount - 1 && rnd() < 0.2;
    if (!unterminated) {
      let eol = pick(rnd, EOLS);
      // After a CR, an empty line ended by LF would read as the LF of a CRLF, not as a line.
      if (eol === '\n' && line.kind === 'blank' && previousEol === '\r') eol = '\r\n';
      tokens.push(eol);
      previousEol = eol;
      model.push(line);
    }
  }
  return {
    bytes: toBytes(tokens),
    model,
    initialLastEventId: rnd() < 0.2 ? 'initial' : undefined,
  };
}

const encoder = new TextEncoder();

function toBytes(tokens: Token[]): Uint8Array {
  return concatBytes(...tokens.map((t) => (typeof t === 'string' ? encoder.encode(t) : Uint8Array.from(t))));
}

/** The last event ID each dispatched event should carry, per the spec. */
function expectedLastEventIds(stream: GeneratedStream): string[] {
  let lastEventId = stream.initialLastEventId ?? '';
  let hasData = false;
  const out: string[] = [];
  for (const line of stream.model) {
    if (line.kind === 'data') hasData = true;
    else if (line.kind === 'id' && !line.value.includes('\0')) lastEventId = line.value;
    else if (line.kind === 'blank') {
      if (hasData) out.push(lastEventId);
      hasData = false;
    }
  }
  return out;
}

/** Random cut positions in [0, length], sorted; repeated positions give empty chunks. */
function randomCuts(rnd: Random, length: number): number[] {
  if (rnd() < 0.1) return Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1);
  const cuts = Array.from({ length: int(rnd, 6) }, () => int(rnd, length + 1));
  return cuts.sort((a, b) => a - b);
}

function cut<T extends Uint8Array | string>(input: T, cuts: number[]): T[] {
  const chunks: T[] = [];
  let from = 0;
  for (const at of [...cuts, input.length]) {
    chunks.push((typeof input === 'string' ? input.slice(from, at) : input.subarray(from, at)) as T);
    from = at;
  }
  return chunks;
}

interface Outcome {
  log: string[];
  lastEventIds: string[];
}

function decodeWithOurs(chunks: Array<Uint8Array | string>, lastEventId: string | undefined): Outcome {
  const out: Outcome = { log: [], lastEventIds: [] };
  const decoder = createSSEDecoder({
    ...(lastEventId === undefined ? {} : { lastEventId }),
    onEvent: (m) => {
      out.log.push(JSON.stringify(['event', m.event, m.data, m.id ?? null]));
      out.lastEventIds.push(m.lastEventId);
    },
    onRetry: (ms) => out.log.push(JSON.stringify(['retry', ms])),
    onComment: (text) => out.log.push(JSON.stringify(['comment', text])),
  });
  for (const chunk of chunks) decoder.push(chunk);
  decoder.end();
  return out;
}

/** Feeds already-decoded text to eventsource-parser, applying normalisations 1 and 3. */
function decodeWithOracle(texts: string[]): string[] {
  const log: string[] = [];
  const parser = createParser({
    onEvent: (e) => log.push(JSON.stringify(['event', e.event ?? 'message', e.data, e.id ?? null])),
    onRetry: (ms) => log.push(JSON.stringify(['retry', ms])),
    onComment: (text) => log.push(JSON.stringify(['comment', text])),
  });
  let carriedCR = '';
  for (const text of texts) {
    const chunk = carriedCR + text;
    carriedCR = chunk.endsWith('\r') ? '\r' : '';
    parser.feed(carriedCR === '' ? chunk : chunk.slice(0, -1));
  }
  if (carriedCR !== '') parser.feed('\r\n');
  return log;
}

// Its default ignoreBOM: false strips one leading BOM, as the spec does (normalisation 2).
const oracleDecoder = new TextDecoder();
// Turns a generated byte stream into the equivalent string stream, BOM included.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

interface Stats {
  byteStreams: number;
  stringStreams: number;
  events: number;
  eventsWithId: number;
  retries: number;
  comments: number;
  streamsWithBOM: number;
  /** Chunk boundaries between the CR and the LF of a CRLF. */
  cutCRLFs: number;
  /** Chunk boundaries inside a UTF-8 sequence (bytes) or a surrogate pair (strings). */
  cutCharacters: number;
}

function check(seed: number, stats: Stats): void {
  const rnd = mulberry32(seed);
  const stream = generateStream(rnd);
  const mode = rnd() < 0.6 ? 'bytes' : 'strings';
  let ours: Outcome;
  let oracle: string[];
  let shown: unknown;
  if (mode === 'bytes') {
    stats.byteStreams++;
    const chunks = cut(stream.bytes, randomCuts(rnd, stream.bytes.length));
    ours = decodeWithOurs(chunks, stream.initialLastEventId);
    const texts = chunks.map((c) => oracleDecoder.decode(c, { stream: true }));
    texts.push(oracleDecoder.decode());
    oracle = decodeWithOracle(texts);
    shown = chunks.map((c) => Array.from(c, (b) => b.toString(16).padStart(2, '0')).join(' '));
    const at = (i: number): number => stream.bytes[i] ?? -1;
    countCuts(
      chunks,
      stats,
      (i) => at(i - 1) === 0x0d && at(i) === 0x0a,
      (i) => at(i) >= 0x80 && at(i) < 0xc0,
    );
  } else {
    stats.stringStreams++;
    const text = utf8.decode(stream.bytes);
    const chunks = cut(text, randomCuts(rnd, text.length));
    ours = decodeWithOurs(chunks, stream.initialLastEventId);
    const firstNonEmpty = chunks.findIndex((c) => c !== '');
    oracle = decodeWithOracle(chunks.map((c, i) => (i === firstNonEmpty && c.startsWith('\uFEFF') ? c.slice(1) : c)));
    shown = chunks;
    const at = (i: number): number => text.charCodeAt(i);
    countCuts(
      chunks,
      stats,
      (i) => at(i - 1) === 0x0d && at(i) === 0x0a,
      (i) => at(i) >= 0xdc00 && at(i) < 0xe000,
    );
  }

  const expectedIds = expectedLastEventIds(stream);
  if (ours.log.join('\n') !== oracle.join('\n') || ours.lastEventIds.join('\n') !== expectedIds.join('\n')) {
    const context = `seed ${seed} (${mode}); reproduce with SSE_DIFF_SEED=${seed} SSE_DIFF_COUNT=1; chunks: ${JSON.stringify(shown)}`;
    expect(ours.log, context).toEqual(oracle);
    expect(ours.lastEventIds, `lastEventId, ${context}`).toEqual(expectedIds);
  }

  for (const entry of ours.log) {
    if (entry.startsWith('["event"')) {
      stats.events++;
      if (!entry.endsWith(',null]')) stats.eventsWithId++;
    } else if (entry.startsWith('["retry"')) stats.retries++;
    else stats.comments++;
  }
  if (stream.bytes[0] === 0xef) stats.streamsWithBOM++;
}

/** Counts chunk boundaries (as offsets into the whole input) that cut a CRLF or a character. */
function countCuts(
  chunks: Array<{ length: number }>,
  stats: Stats,
  cutsCRLF: (offset: number) => boolean,
  cutsCharacter: (offset: number) => boolean,
): void {
  let offset = 0;
  for (const chunk of chunks.slice(0, -1)) {
    offset += chunk.length;
    if (cutsCRLF(offset)) stats.cutCRLFs++;
    if (cutsCharacter(offset)) stats.cutCharacters++;
  }
}

/**
 * The seeds run in batches, each its own test: the work is CPU-bound, so on a busy machine one
 * test of every seed could outlast the per-test timeout while every batch still fits it.
 */
const BATCH = 10_000;
const batches = Array.from({ length: Math.ceil(COUNT / BATCH) }, (_, b) => ({
  from: b * BATCH,
  to: Math.min(COUNT, (b + 1) * BATCH),
}));

describe('differential test against eventsource-parser', () => {
  const stats: Stats = {
    byteStreams: 0,
    stringStreams: 0,
    events: 0,
    eventsWithId: 0,
    retries: 0,
    comments: 0,
    streamsWithBOM: 0,
    cutCRLFs: 0,
    cutCharacters: 0,
  };

  for (const { from, to } of batches) {
    it(`agrees on random streams ${from + 1} to ${to} (of ${COUNT}) cut into random chunks`, () => {
      for (let i = from; i < to; i++) check((BASE_SEED + i) >>> 0, stats);
    });
  }

  it('the generator reached the interesting cases, in both modes', () => {
    const checked = stats.byteStreams + stats.stringStreams;
    if (checked < 10_000) return;
    const floor = checked / 100;
    for (const [name, value] of Object.entries(stats)) expect(value, name).toBeGreaterThan(floor);
  });
});
