import { LAST_EVENT_ID_HEADER } from '../protocol.js';
import { TRPCError, type AnyTRPCRouter } from '@trpc/server';
import { parseConnectionParamsFromString } from '@trpc/server/http';
import type { SSERequest } from './request.js';

/**
 * The resume id a reconnecting client sends: the `Last-Event-ID` header (what EventSource
 * and our client send), else the `lastEventId` query parameter (for clients that cannot
 * set headers), as tRPC reads it. `null` when absent.
 */
export function readLastEventId(req: SSERequest, maxLength: number): string | null {
  const value =
    req.headers.get(LAST_EVENT_ID_HEADER) ?? req.searchParams.get('lastEventId') ?? req.searchParams.get('Last-Event-Id');
  if (value === null || value === '') return null;
  // eslint-disable-next-line no-control-regex
  if (value.length > maxLength || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new TRPCError({
      code: 'BAD_REQUEST',
      message: `Invalid Last-Event-ID: at most ${maxLength} characters, no control characters`,
    });
  }
  return value;
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
