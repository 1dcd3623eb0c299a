/**
 * Server-sent events codec: an allocation-light encoder for the server and a streaming,
 * spec-exact decoder that runs in browsers and Node alike.
 */
export { encodeComment, encodeEvent, encodeEventBytes, encodeRetry } from './encoder.js';
export type { SSEEventFields } from './encoder.js';
export { createSSEDecoder } from './decoder.js';
export type { SSEDecoder, SSEDecoderOptions, SSEMessage } from './decoder.js';
export { SSEDecodeError, SSEEncodeError } from './errors.js';
export type { SSEDecodeErrorCode, SSEDecodeErrorDetails, SSEEncodeErrorField } from './errors.js';
