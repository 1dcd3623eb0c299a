import { encodeEvent } from '../../codec/encoder.js';
import { MUX_EVENT, type ConnectionHello, type ReconnectFrameData } from '../../protocol.js';

/*
 * The frames of the multiplexed stream (PROTOCOL.md §2.3), written as text: the per-subscription
 * ones (`started`, `failed`, …) are templates around a few quoted strings, with the event names
 * of {@link MUX_EVENT} and the data shapes of src/protocol.ts. The value frame, which the
 * serializer shares across a fan-out, is in ../valueFrame.ts.
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
