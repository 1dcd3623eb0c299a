import { LAST_EVENT_ID_HEADER, QUERY_PARAM } from '../protocol.js';
import { TRPCError, type AnyTRPCRouter } from '@trpc/server';
import { parseConnectionParamsFromString } from '@trpc/server/http';
import type { SSERequest } from './request.js';
import { trackedIdProblem } from './trackedId.js';

/**
 * The resume id a reconnecting client sends: the `Last-Event-ID` header (what EventSource
 * and our client send), else the `lastEventId` query parameter (for clients that cannot
 * set headers, and our client for ids a header cannot carry), as tRPC reads it. `null`
 * when absent.
 */
export function readLastEventId(req: SSERequest, maxLength: number): string | null {
  const header = req.headers.get(LAST_EVENT_ID_HEADER);
  const value =
    (header === null ? null : headerAsUtf8(header)) ??
    req.searchParams.get(QUERY_PARAM.lastEventId) ??
    req.searchParams.get('Last-Event-Id');
  if (value === null || value === '') return null;
  const problem = trackedIdProblem(value, maxLength);
  if (problem !== undefined) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: `Invalid Last-Event-ID: ${problem}` });
  }
  return value;
}

// ignoreBOM: a leading U+FEFF is part of the id, not a byte-order mark to drop.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A header value read back as the UTF-8 it was sent as. EventSource sends the last event ID
 * UTF-8 encoded; Node (and `Headers`) hand header bytes over one character per byte
 * (Latin-1), so `évt` arrives as `Ã©vt`. A value of such characters that forms valid UTF-8
 * is decoded as UTF-8; anything else (plain ASCII, bytes that are not UTF-8, a value a
 * runtime already decoded) is kept as it is.
 */
export function headerAsUtf8(value: string): string {
  let high = false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code > 0xff) return value;
    if (code > 0x7f) high = true;
  }
  if (!high) return value;
  const bytes = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i);
  try {
    return UTF8.decode(bytes);
  } catch {
    return value;
  }
}

/** The subscription's input from `?input=` (JSON, then the router's transformer). */
export function readInput(req: SSERequest, router: AnyTRPCRouter, maxLength: number): unknown {
  const text = req.searchParams.get('input');
  if (text === null) return undefined;
  if (text.length > maxLength) {
    throw new TRPCError({
      code: 'PAYLOAD_TOO_LARGE',
      message: `Input is ${text.length} characters; the limit is ${maxLength}`,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new TRPCError({ code: 'PARSE_ERROR', message: 'The "input" query parameter is not valid JSON', cause });
  }
  try {
    return router._def._config.transformer.input.deserialize(json);
  } catch (cause) {
    throw new TRPCError({ code: 'PARSE_ERROR', message: 'The transformer could not deserialize "input"', cause });
  }
}

/** `connectionParams` as `httpSubscriptionLink` sends them (a JSON query parameter). */
export function readConnectionParams(req: SSERequest, maxLength: number): Record<string, string> | null {
  const text = req.searchParams.get('connectionParams');
  if (text === null) return null;
  if (text.length > maxLength) {
    throw new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: `connectionParams exceed ${maxLength} characters` });
  }
  return parseConnectionParamsFromString(text) as Record<string, string> | null;
}
