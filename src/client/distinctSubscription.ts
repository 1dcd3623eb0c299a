import { TRPCClientError, type Operation, type OperationResultEnvelope } from '@trpc/client';
import type { AnyTRPCRouter, TRPCCombinedDataTransformer } from '@trpc/server';
import { mayContainBinary, reviveBinary } from '../codec/binary.js';
import type { SSEMessage } from '../codec/decoder.js';
import { clientErrorWithCode, type AnyClientError } from './errors.js';
import { readEventStream } from './eventStream.js';
import { headersToRecord, resolve } from './options.js';
import { errorFromResponse } from './responseError.js';
import { backoffDelay, defaultShouldRetry, RETRY_DEFAULTS } from './retry.js';
import type { ClientRuntime } from './runtime.js';

/** The observer a link hands us: tRPC's envelopes, typed errors. */
export interface EnvelopeObserver {
  next(envelope: OperationResultEnvelope<unknown, AnyClientError>): void;
  error(error: AnyClientError): void;
  complete(): void;
}

/** How one connection attempt ended. */
type AttemptOutcome = { kind: 'return' } | { kind: 'error'; error: AnyClientError };

/** The state a subscription reports to its client, for the client-wide `connectionState`. */
export type SubscriptionState = { state: 'connecting'; error: AnyClientError | null } | { state: 'pending' };

function toClientError(cause: unknown): AnyClientError {
  return cause instanceof TRPCClientError ? (cause as AnyClientError) : TRPCClientError.from<AnyTRPCRouter>(cause as Error);
}

/**
 * One subscription on its own event stream, in tRPC's dialect (distinct mode). It owns its
 * reconnect loop: every attempt re-reads `url`, headers and `connectionParams`, sends the last
 * tracked id as `Last-Event-ID`, and waits a jittered, growing delay after each failure.
 */
export class DistinctSubscription {
  readonly #runtime: ClientRuntime;
  readonly #op: Operation;
  readonly #transformer: TRPCCombinedDataTransformer;
  readonly #observer: EnvelopeObserver;
  readonly #stop = new AbortController();
  #lastEventId: string | undefined;
  /** The server's `retry:` advice, replacing the floor of the backoff. */
  #serverRetryMs: number | undefined;
  #failures = 0;

  constructor(runtime: ClientRuntime, op: Operation, transformer: TRPCCombinedDataTransformer, observer: EnvelopeObserver) {
    this.#runtime = runtime;
    this.#op = op;
    this.#transformer = transformer;
    this.#observer = observer;
    const lastEventId = (op.input as { lastEventId?: unknown } | undefined)?.lastEventId;
    if (typeof lastEventId === 'string') this.#lastEventId = lastEventId;
  }

  /** Starts the connect loop. */
  start(): void {
    void this.#loop();
  }

  /** Unsubscribes: aborts the stream (the server stops the procedure) and emits nothing more. */
  stop(): void {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    this.#runtime.report(this, null);
  }

  get stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  #state(state: SubscriptionState): void {
    if (this.stopped) return;
    this.#runtime.report(this, state);
    this.#observer.next({
      result: { type: 'state', state: state.state, error: state.state === 'connecting' ? state.error : null } as never,
    });
  }

  async #loop(): Promise<void> {
    const retry = this.#runtime.options.retry ?? {};
    const shouldRetry = retry.shouldRetry ?? defaultShouldRetry;
    this.#state({ state: 'connecting', error: null });
    while (!this.stopped) {
      let outcome: AttemptOutcome;
      try {
        outcome = await this.#attempt();
      } catch (cause) {
        outcome = { kind: 'error', error: toClientError(cause) };
      }
      if (this.stopped) return;
      if (outcome.kind === 'return') {
        this.#observer.next({ result: { type: 'stopped' } });
        this.#observer.next({ result: { type: 'state', state: 'idle', error: null } as never });
        this.stop();
        this.#observer.complete();
        return;
      }
      const { error } = outcome;
      this.#failures++;
      this.#runtime.options.onError?.(error);
      if (!shouldRetry({ error, attempt: this.#failures, op: this.#op })) {
        this.stop();
        this.#observer.error(error);
        return;
      }
      this.#state({ state: 'connecting', error });
      const minDelayMs = this.#serverRetryMs ?? retry.minDelayMs ?? RETRY_DEFAULTS.minDelayMs;
      const maxDelayMs = Math.max(minDelayMs, retry.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs);
      await this.#runtime.sleep(backoffDelay(this.#failures, minDelayMs, maxDelayMs), this.#stop.signal);
    }
  }

  #url(base: string, params: Record<string, string> | null): string {
    const { path, input } = this.#op;
    let url = `${base.replace(/\/+$/, '')}/${path}`;
    const query: string[] = [];
    if (input !== undefined) {
      query.push('input=' + encodeURIComponent(JSON.stringify(this.#transformer.input.serialize(input))));
    }
    if (params) query.push('connectionParams=' + encodeURIComponent(JSON.stringify(params)));
    if (query.length) url += (url.includes('?') ? '&' : '?') + query.join('&');
    return url;
  }

  /** One connection: open the stream, read it until it ends; says how it ended. */
  async #attempt(): Promise<AttemptOutcome> {
    const { options } = this.#runtime;
    const [base, headers, params] = await Promise.all([
      resolve(options.url),
      resolve(options.headers),
      resolve(options.connectionParams ?? null),
    ]);
    const attempt = new AbortController();
    const onStop = (): void => attempt.abort();
    this.#stop.signal.addEventListener('abort', onStop, { once: true });
    let inactivityTimer: ReturnType<typeof setTimeout> | undefined;
    try {
      const requestHeaders: Record<string, string> = {
        ...headersToRecord(headers),
        // The parameter tells our server this client revives tagged bytes (see codec/binary);
        // stock servers ignore it. An Accept value stays CORS-safelisted: no preflight for it.
        accept: 'text/event-stream;trpc-sse-binary=base64',
      };
      if (this.#lastEventId !== undefined) requestHeaders['last-event-id'] = this.#lastEventId;
      const response = await this.#runtime.fetch(this.#url(base, params), {
        method: 'GET',
        headers: requestHeaders,
        signal: attempt.signal,
        cache: 'no-store',
      });
      const deserialize = (value: unknown): unknown => this.#transformer.output.deserialize(value);
      if (!response.ok || !(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        return { kind: 'error', error: await errorFromResponse(response, deserialize) };
      }

      let outcome: AttemptOutcome | undefined;
      let lastActivity = Date.now();
      const watchInactivity = (timeoutMs: number): void => {
        if (inactivityTimer) clearTimeout(inactivityTimer);
        const check = (): void => {
          const idle = Date.now() - lastActivity;
          if (idle < timeoutMs) {
            inactivityTimer = setTimeout(check, timeoutMs - idle);
            return;
          }
          outcome = {
            kind: 'error',
            error: clientErrorWithCode('TIMEOUT', `No event or ping for ${timeoutMs} ms; reconnecting`, 408),
          };
          attempt.abort();
        };
        inactivityTimer = setTimeout(check, timeoutMs);
      };
      const finish = (result: AttemptOutcome): void => {
        outcome = result;
        attempt.abort();
      };
      const onMessage = (message: SSEMessage): void => {
        if (outcome) return;
        try {
          this.#onMessage(message, finish, watchInactivity);
        } catch (cause) {
          finish({
            kind: 'error',
            error: clientErrorWithCode('PARSE_ERROR', 'The server sent an event the client cannot read', 400, cause),
          });
        }
      };
      try {
        await readEventStream(
          response,
          {
            onMessage,
            onRetry: (ms) => (this.#serverRetryMs = ms),
            onActivity: () => (lastActivity = Date.now()),
          },
          { maxLineLength: options.maxLineLength, signal: attempt.signal },
        );
      } catch (cause) {
        if (!outcome) outcome = { kind: 'error', error: toClientError(cause) };
      }
      options.onClose?.(outcome?.kind === 'error' ? outcome.error : undefined);
      return (
        outcome ?? {
          kind: 'error',
          error: TRPCClientError.from<AnyTRPCRouter>(new Error('The event stream ended without "return"; reconnecting')),
        }
      );
    } finally {
      if (inactivityTimer) clearTimeout(inactivityTimer);
      this.#stop.signal.removeEventListener('abort', onStop);
      attempt.abort();
    }
  }

  #onMessage(message: SSEMessage, finish: (outcome: AttemptOutcome) => void, watchInactivity: (ms: number) => void): void {
    const deserialize = (text: string): unknown => {
      const value = this.#transformer.output.deserialize(JSON.parse(text));
      return mayContainBinary(text) ? reviveBinary(value) : value;
    };
    switch (message.event) {
      case 'connected': {
        const hints = JSON.parse(message.data) as { reconnectAfterInactivityMs?: unknown };
        if (typeof hints.reconnectAfterInactivityMs === 'number' && hints.reconnectAfterInactivityMs > 0) {
          watchInactivity(hints.reconnectAfterInactivityMs);
        }
        this.#failures = 0;
        this.#runtime.options.onOpen?.();
        this.#observer.next({ result: { type: 'started' } });
        this.#state({ state: 'pending' });
        return;
      }
      case 'ping':
        return;
      case 'serialized-error': {
        const shape = deserialize(message.data);
        finish({ kind: 'error', error: TRPCClientError.from<AnyTRPCRouter>({ error: shape } as never) });
        return;
      }
      case 'return':
        finish({ kind: 'return' });
        return;
      case 'message': {
        const data = deserialize(message.data);
        if (message.id !== undefined && message.id !== '') {
          this.#lastEventId = message.id;
          // The shape tRPC's own links emit for `tracked()` values: `retryLink` reads `result.id`.
          this.#observer.next({ result: { id: message.id, data: { id: message.id, data } } as never });
        } else {
          this.#observer.next({ result: { data } });
        }
        return;
      }
      default:
      // Unknown event names are ignored, as EventSource would for unlistened types.
    }
  }
}
