import { encodeEvent } from '../../codec/encoder.js';
import { MUX_EVENT, type ConnectionHello, type ReconnectFrameData } from '../../protocol.js';

/*
 * The frames of the multiplexed stream (PROTOCOL.md §2.3), written as text: the hot ones
 * (`message`, `started`, …) are templates around a few quoted strings, with the event names
 * of {@link MUX_EVENT} and the data shapes of src/protocol.ts.
 */

export function connectionFrame(data: ConnectionHello): string {
  return encodeEvent({ event: MUX_EVENT.connection, data: JSON.stringify(data) });
}

// Subscription ids and tracked ids go through JSON.stringify, so they cannot break the frame.
const quote = JSON.stringify;

export function startedFrame(seq: number, subId: string): string {
  return `event: ${MUX_EVENT.started}\nid: ${seq}\ndata: {"s":${quote(subId)}}\n\n`;
}

export function returnFrame(seq: number, subId: string): string {
  return `event: ${MUX_EVENT.return}\nid: ${seq}\ndata: {"s":${quote(subId)}}\n\n`;
}

export function failedFrame(seq: number, subId: string, shapeJSON: string): string {
  return `event: ${MUX_EVENT.failed}\nid: ${seq}\ndata: {"s":${quote(subId)},"e":${shapeJSON}}\n\n`;
}

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

export function resetFrame(seq: number, subId: string, reason: string, lastEventId: string | null): string {
  return `event: ${MUX_EVENT.reset}\nid: ${seq}\ndata: {"s":${quote(subId)},"r":${quote(reason)},"i":${quote(lastEventId)}}\n\n`;
}

export function checkpointFrame(seq: number, subId: string, lastEventId: string): string {
  return `event: ${MUX_EVENT.checkpoint}\nid: ${seq}\ndata: {"s":${quote(subId)},"i":${quote(lastEventId)}}\n\n`;
}

export function reconnectFrame(afterMs: number): string {
  const data: ReconnectFrameData = { afterMs };
  return encodeEvent({ event: MUX_EVENT.reconnect, data: JSON.stringify(data) });
}
