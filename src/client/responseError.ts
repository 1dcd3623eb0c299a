import { TRPCClientError } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { clientErrorFromStatus, clientErrorWithCode, type AnyClientError } from './errors.js';
import type { ResponseLike } from './options.js';

/** Longest error body read from a failed response; the rest is not needed to type the error. */
const MAX_ERROR_BODY = 64 * 1024;

function isErrorShape(value: unknown): value is { error: { message: string; code: number; data?: unknown } } {
  if (!value || typeof value !== 'object' || !('error' in value)) return false;
  const error = value.error;
  return !!error && typeof error === 'object' && typeof (error as { code?: unknown }).code === 'number';
}

/**
 * The typed error for a response that is not an event stream: a tRPC JSON error body (a
 * stock tRPC server answers pre-stream failures so), else the HTTP status mapped to a code.
 */
export async function errorFromResponse(
  response: ResponseLike,
  deserialize: (value: unknown) => unknown,
): Promise<AnyClientError> {
  let text = '';
  try {
    text = (await response.text()).slice(0, MAX_ERROR_BODY);
  } catch {
    // The body broke too; the status still says enough.
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (json !== undefined) {
    // Batched or single, a tRPC error body is `{ error: <shape through the transformer> }`.
    const envelope: unknown = Array.isArray(json) ? json[0] : json;
    if (envelope && typeof envelope === 'object' && 'error' in envelope) {
      let shape: unknown = envelope.error;
      try {
        shape = deserialize(shape);
      } catch {
        // A shape the transformer cannot read is still worth a look as plain JSON.
      }
      if (isErrorShape({ error: shape })) return TRPCClientError.from<AnyTRPCRouter>({ error: shape } as never);
    }
    if (response.ok) {
      return clientErrorWithCode(
        'METHOD_NOT_SUPPORTED',
        'The server answered with JSON, not an event stream: is the procedure a subscription?',
        405,
      );
    }
  }
  if (response.ok) {
    const type = response.headers.get('content-type') ?? 'no content type';
    return clientErrorWithCode('UNSUPPORTED_MEDIA_TYPE', `Expected text/event-stream, got ${type}`, 415);
  }
  return clientErrorFromStatus(response.status, response.statusText);
}
