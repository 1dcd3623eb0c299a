/**
 * Streaming server-sent events decoder, following the WHATWG HTML "event stream
 * interpretation" rules: https://html.spec.whatwg.org/multipage/server-sent-events.html
 *
 * Chunks may be cut anywhere (inside a line, inside a CRLF, inside a UTF-8 sequence); the
 * events produced do not depend on where. Work is linear in the input: new text is only
 * scanned once for line endings, and the fragments of a line spanning several chunks are
 * joined once, when the line ends.
 */
import { SSEDecodeError, type SSEDecodeErrorCode } from './errors.js';

/** One dispatched event. */
export interface SSEMessage {
  /** Event type; `'message'` when the event had no (or an empty) `event` field. */
  event: string;
  /** Payload: the `data` lines of the event joined with LF. */
  data: string;
  /** The value of this event's own (valid) `id` field, or `undefined` if it had none. */
  id: string | undefined;
  /**
   * The last event ID after this event, as `EventSource` exposes it: the latest valid `id`
   * field of a block the stream ended with a blank line (or of an earlier stream, see
   * {@link SSEDecoderOptions.lastEventId}). A block without data still sets it; an `id` in
   * a block cut off by `end()` or `reset()` does not (the spec sets the last event ID only
   * when it dispatches).
   */
  lastEventId: string;
}

/** Options of {@link createSSEDecoder}. */
export interface SSEDecoderOptions {
  /** Called for every dispatched event, in stream order. */
  onEvent: (message: SSEMessage) => void;
  /** Called with the new reconnection delay (ms) for every valid `retry` field. Default: none. */
  onRetry?: (ms: number) => void;
  /** Called with the text of every comment line, one leading space removed. Default: none. */
  onComment?: (text: string) => void;
  /**
   * Max characters (UTF-16 code units, line ending excluded) of one line; a longer line
   * makes `push()` throw a `LINE_TOO_LONG` {@link SSEDecodeError}. `Infinity` disables
   * the limit. Default: 1 MiB (1_048_576).
   */
  maxLineLength?: number;
  /**
   * Max characters of one event's data (all its `data` lines joined). Many short lines can
   * build an event no line bound would catch; past this `push()` throws an
   * `EVENT_TOO_LARGE` {@link SSEDecodeError}. `Infinity` disables the limit.
   * Default: 16 MiB (16_777_216).
   */
  maxEventLength?: number;
  /** Initial last event ID (a reconnecting client passes its last id). Default: `''`. */
  lastEventId?: string;
}

/** A streaming decoder created by {@link createSSEDecoder}. */
export interface SSEDecoder {
  /**
   * Feeds the next chunk of the stream. Bytes are decoded as UTF-8 (invalid sequences
   * become U+FFFD; a sequence cut between chunks is completed by the next chunk); strings
   * are taken as already decoded. Callbacks run synchronously, before `push` returns, and
   * must not call `push`, `end` or `reset` themselves; if one throws, `push` rethrows and
   * the rest of that chunk is lost.
   *
   * @throws {@link SSEDecodeError} `LINE_TOO_LONG` when a line exceeds `maxLineLength`.
   * Events before that line have been delivered; the decoder then throws the same error on
   * every `push` until `reset()` or `end()`.
   */
  push(chunk: Uint8Array | string): void;
  /**
   * Ends the stream. An event without its terminating blank line is discarded, as the spec
   * requires; so is an unterminated last line. The decoder is then ready for a new stream,
   * exactly as after `reset()`.
   */
  end(): void;
  /**
   * Starts a fresh stream: buffered input, partial event (with its `id`) and error state are
   * dropped, and a leading BOM is skipped again. The last event ID of dispatched events is
   * kept, as it is across reconnections.
   */
  reset(): void;
}

const LF = 0x0a;
const SPACE = 0x20;
const BOM = 0xfeff;
const DEFAULT_MAX_LINE_LENGTH = 1_048_576;
const DEFAULT_MAX_EVENT_LENGTH = 16_777_216;
const ASCII_DIGITS = /^[0-9]+$/;

/**
 * Creates a streaming SSE decoder.
 *
 * @throws `RangeError` when `maxLineLength` is negative or NaN.
 */
export function createSSEDecoder(opts: SSEDecoderOptions): SSEDecoder {
  const { onEvent, onRetry, onComment } = opts;
  const maxLineLength = opts.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  if (!(maxLineLength >= 0)) {
    throw new RangeError(`maxLineLength must be a non-negative number, got ${String(maxLineLength)}`);
  }
  const maxEventLength = opts.maxEventLength ?? DEFAULT_MAX_EVENT_LENGTH;
  if (!(maxEventLength >= 0)) {
    throw new RangeError(`maxEventLength must be a non-negative number, got ${String(maxEventLength)}`);
  }
  // The spec's "last event ID string" (committed when a blank line dispatches) and its
  // "last event ID buffer" (set by `id` fields). A new stream's buffer starts from the
  // committed value, as a reconnecting EventSource's does.
  let lastEventId = opts.lastEventId ?? '';
  let lastEventIdBuffer = lastEventId;

  // ignoreBOM keeps U+FEFF in the text so that bytes and strings go through the same
  // BOM rule below; the default would strip it only for bytes.
  const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
  // True while the TextDecoder may hold the first bytes of a cut sequence.
  let bytesPending = false;
  let atStreamStart = true;
  // The previous text ended with CR: a LF starting the next text belongs to that CRLF.
  let skipLeadingLF = false;
  let pending: string[] = [];
  let pendingLength = 0;
  // Where the next colon is in `colonText`, the text whose lines are being read (processLine).
  let colonText: string | undefined;
  let colonAt = -1;
  let failure: SSEDecodeError | undefined;

  // `data` without its trailing LF, plus whether any data line was seen: equivalent to the
  // spec's buffer (non-empty iff a data line was seen; dispatch strips the final LF).
  let data = '';
  let hasData = false;
  let eventType = '';
  let eventId: string | undefined;

  function push(chunk: Uint8Array | string): void {
    if (failure !== undefined) throw failure;
    if (typeof chunk === 'string') {
      if (bytesPending) {
        // The cut sequence can no longer be completed: it becomes U+FFFD.
        bytesPending = false;
        feed(utf8.decode());
      }
      feed(chunk);
    } else {
      bytesPending = true;
      feed(utf8.decode(chunk, { stream: true }));
    }
  }

  function feed(text: string): void {
    const length = text.length;
    if (length === 0) return;
    let pos = 0;
    colonText = undefined;
    if (atStreamStart) {
      atStreamStart = false;
      if (text.charCodeAt(0) === BOM) pos = 1;
    }
    if (skipLeadingLF) {
      skipLeadingLF = false;
      if (text.charCodeAt(pos) === LF) pos++;
    }
    // Each index is searched again only once passed, so the text is scanned once overall
    // even when one kind of line ending is rare.
    let cr = text.indexOf('\r', pos);
    let lf = text.indexOf('\n', pos);
    while (cr !== -1 || lf !== -1) {
      if (lf === -1 || (cr !== -1 && cr < lf)) {
        takeLine(text, pos, cr);
        if (cr + 1 === length) {
          // The LF of a CRLF may come with the next chunk; the line itself is complete.
          skipLeadingLF = true;
          return;
        }
        pos = cr + 1;
        if (lf === pos) {
          pos++;
          lf = text.indexOf('\n', pos);
        }
        cr = text.indexOf('\r', pos);
      } else {
        takeLine(text, pos, lf);
        pos = lf + 1;
        lf = text.indexOf('\n', pos);
      }
    }
    colonText = undefined;
    if (pos < length) {
      pendingLength += length - pos;
      if (pendingLength > maxLineLength) fail();
      pending.push(pos === 0 ? text : text.slice(pos));
    }
  }

  function takeLine(text: string, start: number, end: number): void {
    // Checked on complete lines too, so that the outcome does not depend on chunking.
    if (pendingLength + (end - start) > maxLineLength) fail();
    if (pending.length === 0) {
      processLine(text, start, end);
      return;
    }
    pending.push(text.slice(start, end));
    const line = pending.join('');
    pending = [];
    pendingLength = 0;
    processLine(line, 0, line.length);
  }

  /**
   * The line `text[start, end)`, read in place: only the value is cut out of the text, so a
   * `data` line costs one string, not three (line, field name, value).
   */
  function processLine(text: string, start: number, end: number): void {
    if (start === end) {
      dispatch();
      return;
    }
    // The next colon is searched for again only once passed: a run of lines without one
    // would otherwise each scan the rest of the text.
    if (colonText !== text || (colonAt !== -1 && colonAt < start)) {
      colonText = text;
      colonAt = text.indexOf(':', start);
    }
    const colon = colonAt >= end ? -1 : colonAt;
    if (colon === start) {
      if (onComment)
        onComment(text.slice(text.charCodeAt(start + 1) === SPACE && start + 1 < end ? start + 2 : start + 1, end));
      return;
    }
    const fieldEnd = colon === -1 ? end : colon;
    const valueStart =
      colon === -1 ? end : text.charCodeAt(colon + 1) === SPACE && colon + 1 < end ? colon + 2 : colon + 1;
    // Field names are case-sensitive; unknown ones are ignored.
    switch (fieldEnd - start) {
      case 4:
        if (text.startsWith('data', start)) {
          const value = text.slice(valueStart, end);
          if (hasData) {
            data += `\n${value}`;
          } else {
            data = value;
            hasData = true;
          }
          if (data.length > maxEventLength) fail('EVENT_TOO_LARGE', maxEventLength);
        }
        break;
      case 5:
        if (text.startsWith('event', start)) eventType = text.slice(valueStart, end);
        else if (text.startsWith('retry', start)) {
          const value = text.slice(valueStart, end);
          if (ASCII_DIGITS.test(value)) onRetry?.(parseInt(value, 10));
        }
        break;
      case 2:
        if (text.startsWith('id', start)) {
          const value = text.slice(valueStart, end);
          // An id with NUL is ignored entirely: it could not be sent back in a header.
          if (!value.includes('\0')) {
            lastEventIdBuffer = value;
            eventId = value;
          }
        }
        break;
    }
  }

  function dispatch(): void {
    // "Set the last event ID string of the event source to the value of the last event ID
    // buffer", before the check for an empty data buffer: a block with only an `id` counts.
    lastEventId = lastEventIdBuffer;
    if (!hasData) {
      eventType = '';
      eventId = undefined;
      return;
    }
    const message: SSEMessage = {
      event: eventType === '' ? 'message' : eventType,
      data,
      id: eventId,
      lastEventId,
    };
    // State is reset before the callback so that a throwing callback leaves a clean event.
    data = '';
    hasData = false;
    eventType = '';
    eventId = undefined;
    onEvent(message);
  }

  function fail(code: SSEDecodeErrorCode = 'LINE_TOO_LONG', limit = maxLineLength): never {
    const error = new SSEDecodeError({ code, limit });
    clear();
    failure = error;
    throw error;
  }

  function clear(): void {
    // Bytes of a cut sequence could only have completed an unterminated line, which is
    // discarded anyway; decode() drops them and readies the TextDecoder for a new stream.
    if (bytesPending) {
      bytesPending = false;
      utf8.decode();
    }
    atStreamStart = true;
    skipLeadingLF = false;
    pending = [];
    pendingLength = 0;
    colonText = undefined;
    failure = undefined;
    data = '';
    hasData = false;
    eventType = '';
    eventId = undefined;
    // An `id` whose block never reached its blank line was never dispatched.
    lastEventIdBuffer = lastEventId;
  }

  return { push, end: clear, reset: clear };
}
