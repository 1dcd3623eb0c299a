import { encodeEvent } from '../../codec/encoder.js';

/** Event names of the multiplexed stream (PROTOCOL.md §2.3). */
export const MUX_EVENT = {
  connection: 'connection',
  started: 'started',
  failed: 'failed',
  return: 'return',
  ping: 'ping',
  reconnect: 'reconnect',
  reset: 'reset',
  checkpoint: 'checkpoint',
} as const;

/** The data of the `connection` event. */
export interface ConnectionEventData {
  protocol: 1;
  connectionId: string;
  secret: string;
  resumed: boolean;
  reconnectAfterInactivityMs: number;
  maxSubscriptions: number;
  /** The largest control request body the server takes: clients split batches under it. */
  maxControlBytes: number;
  /** Ids of the subscriptions the opening request carried, now started (PROTOCOL.md §2.1). */
  subscribed?: string[];
}

export function connectionFrame(data: ConnectionEventData): string {
  return encodeEvent({ event: MUX_EVENT.connection, data: JSON.stringify(data) });
}

// Subscription ids and tracked ids go through JSON.stringify, so they cannot break the frame.
const quote = JSON.stringify;

export function startedFrame(seq: number, subId: string): string {
  return `event: started\nid: ${seq}\ndata: {"s":${quote(subId)}}\n\n`;
}

export function returnFrame(seq: number, subId: string): string {
  return `event: return\nid: ${seq}\ndata: {"s":${quote(subId)}}\n\n`;
}

export function failedFrame(seq: number, subId: string, shapeJSON: string): string {
  return `event: failed\nid: ${seq}\ndata: {"s":${quote(subId)},"e":${shapeJSON}}\n\n`;
}

/**
 * A value frame. `json` is the value already serialized (one serialization can be shared by
 * every subscriber of a fan-out); only the small envelope around it is per subscription.
 */
export function messageFrame(seq: number, subId: string, trackedId: string | undefined, json: string): string {
  const tracked = trackedId === undefined ? '' : `,"i":${quote(trackedId)}`;
  return `id: ${seq}\ndata: {"s":${quote(subId)}${tracked},"d":${json}}\n\n`;
}

export function resetFrame(seq: number, subId: string, reason: string, lastEventId: string | null): string {
  return `event: reset\nid: ${seq}\ndata: {"s":${quote(subId)},"r":${quote(reason)},"i":${quote(lastEventId)}}\n\n`;
}

export function checkpointFrame(seq: number, subId: string, lastEventId: string): string {
  return `event: checkpoint\nid: ${seq}\ndata: {"s":${quote(subId)},"i":${quote(lastEventId)}}\n\n`;
}

export function reconnectFrame(afterMs: number): string {
  return encodeEvent({ event: MUX_EVENT.reconnect, data: JSON.stringify({ afterMs }) });
}
