import { TRPCClientError } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import type { SSEMessage } from '../codec/decoder.js';
import { fetchFailure } from './endpoint.js';
import { clientErrorWithCode, toClientError, type AnyClientError } from './errors.js';
import { readEventStream } from './eventStream.js';
import { errorFromResponse } from './responseError.js';
import type { ClientRuntime } from './runtime.js';

/** A stream attempt ending in an error (the caller's retry policy decides what follows). */
export interface StreamFailure {
  kind: 'error';
  error: AnyClientError;
  /** The failure came from the procedure (in-band), not from the transport. */
  fromProcedure?: boolean;
  /** No retry can mend it (the client's own configuration is wrong): fail without asking the policy. */
  fatal?: boolean;
}

/** What a message handler may do with the stream it reads. */
export interface StreamControl<T> {
  /** Ends the attempt with `outcome` (the stream is closed). */
  finish(outcome: T | StreamFailure): void;
  /** Reconnects when nothing at all arrives for `ms` (the server's `reconnectAfterInactivityMs`). */
  watchInactivity(ms: number): void;
}

/**
 * Whether a `Content-Type` names an event stream: its media type (before any `;`
 * parameters, whitespace trimmed) is `text/event-stream`, compared case-insensitively as
 * RFC 9110 §8.3.1 says type and subtype are. `text/event-streamx` is another type.
 */
function isEventStreamType(contentType: string | null): boolean {
  if (contentType === null) return false;
  const semicolon = contentType.indexOf(';');
  const essence = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim();
  return essence.toLowerCase() === 'text/event-stream';
}

/**
 * One connection attempt: GET an event stream with real headers and read it with `fetch`,
 * handing each event to `onMessage`. Resolves with what `finish` was given, or with a typed
 * failure: a response that is not an event stream (its JSON error body or HTTP status), a
 * broken or silent connection, an oversized line, or a body that ended without `finish`.
 */
export async function runEventStream<T>(
  runtime: ClientRuntime,
  opts: {
    url: string;
    headers: Record<string, string>;
    signal: AbortSignal;
    /** The transformer's `deserialize`, for error bodies. */
    deserialize: (value: unknown) => unknown;
    onMessage: (message: SSEMessage, control: StreamControl<T>) => void;
    onRetry?: (ms: number) => void;
  },
): Promise<T | StreamFailure> {
  const attempt = new AbortController();
  const onAbort = (): void => attempt.abort();
  if (opts.signal.aborted) attempt.abort();
  else opts.signal.addEventListener('abort', onAbort, { once: true });
  let inactivityTimer: ReturnType<typeof setTimeout> | undefined;
  try {
    let response: Awaited<ReturnType<ClientRuntime['fetch']>>;
    try {
      response = await runtime.fetch(opts.url, {
        method: 'GET',
        headers: opts.headers,
        signal: attempt.signal,
        cache: 'no-store',
      });
    } catch (cause) {
      return { kind: 'error', error: fetchFailure(cause, opts.url, 'GET', opts.headers) };
    }
    if (!response.ok || !isEventStreamType(response.headers.get('content-type'))) {
      return { kind: 'error', error: await errorFromResponse(response, opts.deserialize) };
    }
    runtime.countStream(1);
    let outcome: T | StreamFailure | undefined;
    let lastActivity = Date.now();
    const control: StreamControl<T> = {
      finish(result) {
        outcome ??= result;
        attempt.abort();
      },
      watchInactivity(timeoutMs) {
        if (inactivityTimer) clearTimeout(inactivityTimer);
        const check = (): void => {
          const idle = Date.now() - lastActivity;
          if (idle < timeoutMs) {
            inactivityTimer = setTimeout(check, timeoutMs - idle);
            return;
          }
          control.finish({
            kind: 'error',
            error: clientErrorWithCode('TIMEOUT', `No event or ping for ${timeoutMs} ms; reconnecting`, 408),
          });
        };
        inactivityTimer = setTimeout(check, timeoutMs);
      },
    };
    try {
      await readEventStream(
        response,
        {
          onMessage: (message) => {
            if (outcome) return;
            try {
              opts.onMessage(message, control);
            } catch (cause) {
              control.finish({
                kind: 'error',
                error: clientErrorWithCode(
                  'PARSE_ERROR',
                  'The server sent an event the client cannot read',
                  400,
                  cause,
                ),
              });
            }
          },
          onRetry: (ms) => opts.onRetry?.(ms),
          onActivity: () => (lastActivity = Date.now()),
        },
        { maxLineLength: runtime.options.maxLineLength, signal: attempt.signal },
      );
    } catch (cause) {
      outcome ??= { kind: 'error', error: toClientError(cause) };
    }
    runtime.countStream(-1);
    runtime.notifyClose(
      outcome && (outcome as StreamFailure).kind === 'error' ? (outcome as StreamFailure).error : undefined,
    );
    return (
      outcome ?? {
        kind: 'error',
        error: TRPCClientError.from<AnyTRPCRouter>(new Error('The event stream ended unexpectedly; reconnecting')),
      }
    );
  } catch (cause) {
    return { kind: 'error', error: toClientError(cause) };
  } finally {
    if (inactivityTimer) clearTimeout(inactivityTimer);
    opts.signal.removeEventListener('abort', onAbort);
    attempt.abort();
  }
}
