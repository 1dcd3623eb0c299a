/**
 * Errors raised by the SSE codec.
 *
 * Both carry machine-readable details (`field`, `code`, `limit`) so callers can react
 * without parsing messages.
 */

/** The field of an event that {@link SSEEncodeError} refused. */
export type SSEEncodeErrorField = 'event' | 'id' | 'comment' | 'retry';

/**
 * Thrown by the encoder when a field value would corrupt the stream: a line break in
 * `event` or `id` would let the value inject fields or end the event early, a NUL in `id`
 * makes receivers drop the id, and `retry` must be a non-negative safe integer.
 */
export class SSEEncodeError extends Error {
  override readonly name = 'SSEEncodeError';
  /** The field whose value was refused. */
  readonly field: SSEEncodeErrorField;

  /**
   * @param field - The field whose value was refused.
   * @param message - A human-readable explanation.
   */
  constructor(field: SSEEncodeErrorField, message: string) {
    super(message);
    this.field = field;
  }
}

/** Why {@link SSEDecodeError} was thrown; a union so that more reasons can be added. */
export type SSEDecodeErrorCode = 'LINE_TOO_LONG' | 'EVENT_TOO_LARGE';

/** Machine-readable details of an {@link SSEDecodeError}. */
export interface SSEDecodeErrorDetails {
  /** Why decoding stopped. */
  code: SSEDecodeErrorCode;
  /** The limit that was exceeded: characters in one line (`LINE_TOO_LONG`) or in one event's data (`EVENT_TOO_LARGE`). */
  limit: number;
}

/**
 * Thrown by the decoder when the stream cannot be decoded safely, e.g. a line longer than
 * `maxLineLength` (which would otherwise let a peer grow the buffer without bound).
 */
export class SSEDecodeError extends Error {
  override readonly name = 'SSEDecodeError';
  /** Why decoding stopped. */
  readonly code: SSEDecodeErrorCode;
  /** The limit that was exceeded. */
  readonly limit: number;

  /**
   * @param details - The code and the limit that was exceeded.
   * @param message - A human-readable explanation; a default is derived from `details`.
   */
  constructor(details: SSEDecodeErrorDetails, message?: string) {
    super(message ?? defaultDecodeMessage(details));
    this.code = details.code;
    this.limit = details.limit;
  }
}

function defaultDecodeMessage(details: SSEDecodeErrorDetails): string {
  switch (details.code) {
    case 'LINE_TOO_LONG':
      return `SSE line exceeds the limit of ${details.limit} characters`;
    case 'EVENT_TOO_LARGE':
      return `SSE event data exceeds the limit of ${details.limit} characters`;
  }
}
