import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import type { PlainResponse } from '../request.js';

/** A 503 a directory answers for a forwarded request the owner could not answer (the client retries). */
export function unavailable(message: string): PlainResponse {
  return {
    status: 503,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      error: {
        message,
        code: TRPC_ERROR_CODES_BY_KEY.SERVICE_UNAVAILABLE,
        data: { code: 'SERVICE_UNAVAILABLE', httpStatus: 503 },
      },
    }),
  };
}

/** The 404 a directory answers when the connection's owner turns out to be gone. */
export function notFound(): PlainResponse {
  return {
    status: 404,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      error: {
        message: 'No such connection',
        code: TRPC_ERROR_CODES_BY_KEY.NOT_FOUND,
        data: { code: 'NOT_FOUND', httpStatus: 404 },
      },
    }),
  };
}
