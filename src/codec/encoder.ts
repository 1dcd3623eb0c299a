/**
 * Server-sent events encoder: turns event fields into wire text.
 *
 * This runs once per message on the server, so the common shape (a single-line JSON
 * `data`, maybe with an `id`) is built with plain concatenation and no intermediate arrays.
 */
import { SSEEncodeError } from './errors.js';

/** The fields of one server-sent event. Every field is optional. */
export interface SSEEventFields {
  /** Event type; receivers use `'message'` when it is absent or empty. Must not contain CR, LF or NUL. */
  event?: string;
  /**
   * Payload. Line breaks (CR, LF, CRLF) are sent as several `data:` lines, which receivers
   * join with LF: a payload containing CR or CRLF therefore arrives with LF in their place.
   * Absent → no `data:` line, and receivers do not dispatch the event (its `id` and `retry`
   * still take effect).
   */
  data?: string;
  /** Event id, which becomes the receiver's last event ID. Must not contain CR, LF or NUL. */
  id?: string;
  /** Reconnection delay in milliseconds; a non-negative safe integer. */
  retry?: number;
}

// CR or LF in `event` or `id` would end the line early and inject whatever follows as new
// fields. NUL makes receivers silently ignore an id; in an event type it is refused too,
// as it is never intended and many tools treat it as a terminator.
const UNSAFE_NAME = /[\0\n\r]/;
const LINE_BREAK = /\r\n|\r|\n/g;

const utf8 = new TextEncoder();

/**
 * Encodes one event as wire text, terminated by the blank line that makes receivers
 * dispatch it.
 *
 * Fields are written in the order `event`, `id`, `retry`, `data`, each as `name: value`:
 * the space after the colon is the one receivers strip, so a value's own leading space
 * survives.
 *
 * An empty-string `data` is sent as a single `data:` line. Receivers following the WHATWG
 * rules do dispatch it, with `data === ''`: the line puts one LF in their data buffer, which
 * is therefore not empty when the blank line arrives, and dispatch then removes that LF.
 * (Without any `data` field the buffer stays empty and the event is not dispatched; with no
 * field at all the result is a lone blank line, which receivers ignore.)
 *
 * @throws {@link SSEEncodeError} when `event` or `id` contains CR, LF or NUL, or when
 * `retry` is not a non-negative safe integer.
 */
export function encodeEvent(fields: SSEEventFields): string {
  const { event, data, id, retry } = fields;
  let head = '';
  if (event !== undefined) {
    if (UNSAFE_NAME.test(event)) {
      throw new SSEEncodeError('event', 'SSE event type must not contain CR, LF or NUL');
    }
    head = `event: ${event}\n`;
  }
  if (id !== undefined) {
    if (UNSAFE_NAME.test(id)) {
      throw new SSEEncodeError('id', 'SSE event id must not contain CR, LF or NUL');
    }
    head += `id: ${id}\n`;
  }
  if (retry !== undefined) {
    head += `retry: ${checkedRetry(retry)}\n`;
  }
  if (data === undefined) return `${head}\n`;
  if (data === '') return `${head}data:\n\n`;
  // JSON.stringify never emits raw CR/LF, so the split is almost never taken.
  if (!data.includes('\n') && !data.includes('\r')) {
    return `${head}data: ${data}\n\n`;
  }
  return `${head}data: ${data.replace(LINE_BREAK, '\ndata: ')}\n\n`;
}

/**
 * Encodes `encodeEvent(fields)` as UTF-8 bytes. Lone surrogates become U+FFFD, as with
 * any `TextEncoder`.
 *
 * @throws {@link SSEEncodeError} as {@link encodeEvent} does.
 */
export function encodeEventBytes(fields: SSEEventFields): Uint8Array {
  return utf8.encode(encodeEvent(fields));
}

/**
 * Encodes a comment, which receivers ignore (useful as a keep-alive). Each line of `text`
 * becomes its own `: ` line so that a line break in `text` cannot start a field; the
 * comment ends with a blank line. An empty `text` gives `:\n\n`.
 */
export function encodeComment(text: string): string {
  if (text === '') return ':\n\n';
  return `: ${text.replace(LINE_BREAK, '\n: ')}\n\n`;
}

/**
 * Encodes a lone `retry` field, which sets the receiver's reconnection delay.
 *
 * @param ms - Delay in milliseconds; a non-negative safe integer.
 * @throws {@link SSEEncodeError} when `ms` is not a non-negative safe integer.
 */
export function encodeRetry(ms: number): string {
  return `retry: ${checkedRetry(ms)}\n\n`;
}

function checkedRetry(ms: number): number {
  // Receivers accept only ASCII digits: a sign, a fraction or an exponent (as String()
  // prints large numbers) would make them ignore the field.
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new SSEEncodeError('retry', `SSE retry must be a non-negative safe integer, got ${String(ms)}`);
  }
  return ms;
}
