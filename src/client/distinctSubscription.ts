import { TRPCClientError, type Operation, type OperationResultEnvelope } from '@trpc/client';
import type { AnyTRPCRouter, TRPCCombinedDataTransformer } from '@trpc/server';
import type { SSEMessage } from '../codec/decoder.js';
import type { ResetReason } from '../log/reset.js';
import type { AnyClientError } from './errors.js';
import { headersToRecord, resolve } from './options.js';
import { runEventStream, toClientError, type StreamControl, type StreamFailure } from './runEventStream.js';
import { deserializeValue, EVENT_STREAM_ACCEPT } from './wire.js';
import { backoffDelay, defaultShouldRetry, RETRY_DEFAULTS } from './retry.js';
import type { ClientRuntime } from './runtime.js';

/** The observer a link hands us: tRPC's envelopes, typed errors. */
export interface EnvelopeObserver {
  next(envelope: OperationResultEnvelope<unknown, AnyClientError>): void;
  error(error: AnyClientError): void;
  complete(): void;
}

/** How one connection attempt ended. */
type AttemptOutcome = { kind: 'return' } | StreamFailure;


/** The state a subscription reports to its client, for the client-wide `connectionState`. */
export type SubscriptionState = { state: 'connecting'; error: AnyClientError | null } | { state: 'pending' };

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
      const source = outcome.fromProcedure ? 'procedure' : 'transport';
      if (!shouldRetry({ error, attempt: this.#failures, op: this.#op, source })) {
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
    const requestHeaders: Record<string, string> = { ...headersToRecord(headers), accept: EVENT_STREAM_ACCEPT };
    if (this.#lastEventId !== undefined) requestHeaders['last-event-id'] = this.#lastEventId;
    return runEventStream<AttemptOutcome>(this.#runtime, {
      url: this.#url(base, params),
      headers: requestHeaders,
      signal: this.#stop.signal,
      deserialize: (value) => this.#transformer.output.deserialize(value),
      onMessage: (message, control) => this.#onMessage(message, control),
      onRetry: (ms) => (this.#serverRetryMs = ms),
    });
  }

  #onMessage(message: SSEMessage, control: StreamControl<AttemptOutcome>): void {
    const deserialize = (text: string): unknown => deserializeValue(this.#transformer, JSON.parse(text), text);
    switch (message.event) {
      case 'connected': {
        const hints = JSON.parse(message.data) as { reconnectAfterInactivityMs?: unknown };
        if (typeof hints.reconnectAfterInactivityMs === 'number' && hints.reconnectAfterInactivityMs > 0) {
          control.watchInactivity(hints.reconnectAfterInactivityMs);
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
        control.finish({ kind: 'error', error: TRPCClientError.from<AnyTRPCRouter>({ error: shape } as never), fromProcedure: true });
        return;
      }
      case 'return':
        control.finish({ kind: 'return' });
        return;
      case 'checkpoint':
        if (message.id) this.#lastEventId = message.id;
        return;
      case 'reset': {
        const { reason, lastEventId } = JSON.parse(message.data) as { reason: ResetReason; lastEventId: string | null };
        this.#lastEventId = lastEventId ?? undefined;
        this.#runtime.notifyReset({ op: this.#op, reason, lastEventId });
        return;
      }
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
