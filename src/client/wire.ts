import type { TRPCCombinedDataTransformer } from '@trpc/server';
import { mayContainBinary, reviveBinary } from '../codec/binary.js';
import { BINARY_ACCEPT_PARAM } from '../protocol.js';

/**
 * The `Accept` of every stream request. The parameter tells our server this client revives
 * tagged bytes (PROTOCOL.md §1.5); stock servers ignore it. It keeps the header
 * CORS-safelisted.
 */
export const EVENT_STREAM_ACCEPT = `text/event-stream;${BINARY_ACCEPT_PARAM}`;

/**
 * A value from the wire: through the transformer, then tagged bytes revived. `text` is the
 * JSON text it was parsed from, searched for the byte tag (cheaper than walking the value).
 */
export function deserializeValue(transformer: TRPCCombinedDataTransformer, json: unknown, text: string): unknown {
  const value: unknown = transformer.output.deserialize(json);
  return mayContainBinary(text) ? reviveBinary(value) : value;
}
