/*
 * The value frame of the multiplexed stream (PROTOCOL.md §2.3, the data shape
 * `ValueFrameData` of src/protocol.ts), in three pieces: the subscription's key, the body, and
 * the frame around them. The body does not depend on the subscriber, so the serializer makes
 * it once per log event (serialize.ts) and every subscription of a fan-out shares it; that is
 * why it lives here, below both the serializer and the multiplexed connection.
 */

// Subscription ids and tracked ids go through JSON.stringify, so they cannot break the frame.
const quote = JSON.stringify;

/**
 * `{"s":<subId>`: how every value frame of a subscription starts, made once per subscription.
 */
export function subscriptionKey(subId: string): string {
  return `{"s":${quote(subId)}`;
}

/**
 * The rest of a value frame's data after the subscription key: `,"i":<trackedId>,"d":<json>}`.
 * It does not depend on the subscriber, so a log event's is made once for all of them.
 */
export function valueBody(trackedId: string | undefined, json: string): string {
  return trackedId === undefined ? `,"d":${json}}` : `,"i":${quote(trackedId)},"d":${json}}`;
}

/** A value frame: `key` from {@link subscriptionKey}, `body` from {@link valueBody}. */
export function messageFrame(seq: number, key: string, body: string): string {
  return `id: ${seq}\ndata: ${key}${body}\n\n`;
}
