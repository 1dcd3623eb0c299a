import { TRPCClientError } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';

/** The tRPC code an HTTP status stands for, when a response carries no tRPC error body. */
const CODE_BY_STATUS: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  402: 'PAYMENT_REQUIRED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_SUPPORTED',
  408: 'TIMEOUT',
  409: 'CONFLICT',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_CONTENT',
  429: 'TOO_MANY_REQUESTS',
  499: 'CLIENT_CLOSED_REQUEST',
  500: 'INTERNAL_SERVER_ERROR',
  501: 'NOT_IMPLEMENTED',
  502: 'BAD_GATEWAY',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};

export type AnyClientError = TRPCClientError<AnyTRPCRouter>;

/**
 * A `TRPCClientError` carrying a tRPC code, for failures that did not come with a tRPC error
 * shape (an HTTP status from a proxy, a wrong content type). Callers branch on
 * `error.data.code` exactly as for server errors.
 */
export function clientErrorWithCode(
  code: TRPC_ERROR_CODE_KEY,
  message: string,
  httpStatus: number,
  cause?: unknown,
): AnyClientError {
  const error = TRPCClientError.from<AnyTRPCRouter>({
    error: { message, code: TRPC_ERROR_CODES_BY_KEY[code], data: { code, httpStatus } },
  } as never);
  if (cause !== undefined) (error as { cause?: unknown }).cause = cause;
  return error;
}

/** A typed error for a non-2xx response without a tRPC body. */
export function clientErrorFromStatus(status: number, statusText: string): AnyClientError {
  const code = CODE_BY_STATUS[status] ?? (status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST');
  return clientErrorWithCode(code, `HTTP ${status}${statusText ? ` ${statusText}` : ''}`, status);
}

/** tRPC's code of an error, or `undefined` for transport failures (network, abort). */
export function errorCode(error: AnyClientError): TRPC_ERROR_CODE_KEY | undefined {
  return (error.data as { code?: TRPC_ERROR_CODE_KEY } | undefined)?.code;
}

/** Any failure as a `TRPCClientError` (one already is stays as it is). */
export function toClientError(cause: unknown): AnyClientError {
  return cause instanceof TRPCClientError
    ? (cause as AnyClientError)
    : TRPCClientError.from<AnyTRPCRouter>(cause as Error);
}
