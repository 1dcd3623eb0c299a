import { TRPCClientError, type Operation } from '@trpc/client';
import type { AnyTRPCRouter, TRPCCombinedDataTransformer } from '@trpc/server';
import type { SSEMessage } from '../../codec/decoder.js';
import type { ResetReason } from '../../log/reset.js';
import { LAST_EVENT_ID_HEADER, QUERY_PARAM } from '../../protocol.js';
import { endpointUrl, setupFailure } from '../endpoint.js';
import { toClientError } from '../errors.js';
import { runEventStream, type StreamControl, type StreamFailure } from '../runEventStream.js';
import type { ClientRuntime } from '../runtime.js';
import {
  completeAsStopped,
  stateEnvelope,
  type EnvelopeObserver,
  type SubscriptionRequest,
  type SubscriptionState,
} from '../transport.js';
import { reportUserError } from '../userCode.js';
import { deserializeValue, EVENT_STREAM_ACCEPT } from '../wire.js';

/**
 * Whether a resume id travels unchanged in a request header: printable ASCII without leading
 * or trailing spaces. `fetch` refuses characters above U+00FF ("Cannot convert argument to a
 * ByteString"), sends U+0080–U+00FF as single bytes that servers read back as UTF-8 (what
 * EventSource sends), and strips whitespace at either end.
 */
export function fitsInHeader(id: string): boolean {
  return /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/.test(id);
}

/** How one connection attempt ended. */
type AttemptOutcome = { kind: 'return' } | StreamFailure;

/**
 * One subscription on its own event stream, in tRPC's dialect (distinct mode). It owns its
 * reconnect loop: every attempt re-reads `url`, headers and `connectionParams`, sends the last
 * tracked id (as `Last-Event-ID`, or the `lastEventId` query parameter when a header cannot
 * carry it), and waits a jittered, growing delay after each failure.
 */
export class DistinctSubscription {
  readonly #runtime: ClientRuntime;
  readonly #op: Operation;
  readonly #transformer: TRPCCombinedDataTransformer;
  readonly #observer: EnvelopeObserver;
  /** Told once when the subscription ends, however it ends: its transport forgets it. */
  readonly #ended: () => void;
  readonly #stop = new AbortController();
  #lastEventId: string | undefined;
  /** The server's `retry:` advice, replacing the floor of the backoff. */
  #serverRetryMs: number | undefined;
  #failures = 0;

  constructor(
    runtime: ClientRuntime,
    { op, transformer, observer, lastEventId: resumeFrom }: SubscriptionRequest,
    ended: () => void,
  ) {
    this.#runtime = runtime;
    this.#op = op;
    this.#transformer = transformer;
    this.#observer = observer;
    this.#ended = ended;
    const lastEventId = resumeFrom ?? (op.input as { lastEventId?: unknown } | undefined)?.lastEventId;
    if (typeof lastEventId === 'string') this.#lastEventId = lastEventId;
  }

  /** Starts the connect loop. */
  start(): void {
    this.#loop().catch((cause: unknown) => {
      // Not expected (application code is called through guards); a loop that dies anyway
      // fails its subscription instead of leaving it `connecting` with a rejection unheard.
      reportUserError('a subscription loop', cause);
      if (this.stop()) this.#observer.error(toClientError(cause));
    });
  }

  /**
   * Ends it: aborts the stream (the server stops the procedure); nothing more is emitted but
   * what the caller emits next. False if it had ended already.
   */
  stop(): boolean {
    if (this.#stop.signal.aborted) return false;
    this.#stop.abort();
    this.#runtime.report(this, null);
    this.#ended();
    return true;
  }

  /** The app unsubscribed: complete, without `stopped` (which means the server ended it). */
  cancel(): void {
    if (this.stop()) this.#observer.complete();
  }

  /** The client closed: `stopped`, then complete. */
  close(): void {
    if (!this.stop()) return;
    this.#observer.next({ result: { type: 'stopped' } });
    this.#observer.complete();
  }

  get stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  #state(state: SubscriptionState): void {
    if (this.stopped) return;
    this.#runtime.report(this, state);
    this.#observer.next(stateEnvelope(state.state, state.state === 'connecting' ? state.error : null));
  }

  async #loop(): Promise<void> {
    this.#state({ state: 'connecting', error: null });
    while (!this.stopped) {
      let outcome: AttemptOutcome;
      try {
        outcome = await this.#attempt();
      } catch (cause) {
        outcome = setupFailure(cause);
      }
      if (this.stopped) return;
      if (outcome.kind === 'return') {
        if (this.stop()) completeAsStopped(this.#observer);
        return;
      }
      const { error } = outcome;
      this.#failures++;
      this.#runtime.notifyError(error);
      const source = outcome.fromProcedure ? 'procedure' : 'transport';
      if (outcome.fatal || !this.#runtime.shouldRetry({ error, attempt: this.#failures, op: this.#op, source })) {
        if (this.stop()) this.#observer.error(error);
        return;
      }
      this.#state({ state: 'connecting', error });
      await this.#runtime.sleep(this.#runtime.backoff(this.#failures, this.#serverRetryMs), this.#stop.signal);
    }
  }

  #url(base: string, params: Record<string, string> | null, lastEventIdParam: string | undefined): string {
    const { path, input } = this.#op;
    const query: string[] = [];
    if (input !== undefined) {
      query.push('input=' + encodeURIComponent(JSON.stringify(this.#transformer.input.serialize(input))));
    }
    if (params) query.push('connectionParams=' + encodeURIComponent(JSON.stringify(params)));
    if (lastEventIdParam !== undefined)
      query.push(`${QUERY_PARAM.lastEventId}=${encodeURIComponent(lastEventIdParam)}`);
    return endpointUrl(base, path, query);
  }

  /** One connection: open the stream, read it until it ends; says how it ended. */
  async #attempt(): Promise<AttemptOutcome> {
    const inputs = await this.#runtime.requestInputs(this.#stop.signal);
    // Stopped meanwhile: the loop sees it and ends; this outcome is not looked at.
    if (!inputs) return { kind: 'return' };
    const requestHeaders: Record<string, string> = { ...inputs.headers, accept: EVENT_STREAM_ACCEPT };
    const resumeId = this.#lastEventId;
    // The id as `Last-Event-ID` when a header carries it unchanged, else (non-ASCII, edge
    // whitespace) as the `lastEventId` query parameter, which every server reads next.
    const inHeader = resumeId !== undefined && fitsInHeader(resumeId);
    if (inHeader) requestHeaders[LAST_EVENT_ID_HEADER] = resumeId;
    return runEventStream<AttemptOutcome>(this.#runtime, {
      url: this.#url(inputs.url, inputs.connectionParams, inHeader ? undefined : resumeId),
      headers: requestHeaders,
      signal: this.#stop.signal,
      deserialize: (value): unknown => this.#transformer.output.deserialize(value),
      onMessage: (message, control) => this.#onMessage(message, control),
      onRetry: (ms) => (this.#serverRetryMs = ms),
    });
  }

  /** A value from the wire (JSON, the transformer, tagged bytes). */
  #deserialize(text: string): unknown {
    return deserializeValue(this.#transformer, JSON.parse(text), text);
  }

  #onMessage(message: SSEMessage, control: StreamControl<AttemptOutcome>): void {
    switch (message.event) {
      case 'connected': {
        const hints = JSON.parse(message.data) as { reconnectAfterInactivityMs?: unknown };
        if (typeof hints.reconnectAfterInactivityMs === 'number' && hints.reconnectAfterInactivityMs > 0) {
          control.watchInactivity(hints.reconnectAfterInactivityMs);
        }
        this.#failures = 0;
        this.#runtime.notifyOpen();
        this.#observer.next({ result: { type: 'started' } });
        this.#state({ state: 'pending' });
        return;
      }
      case 'ping':
        return;
      case 'serialized-error': {
        const shape = this.#deserialize(message.data);
        control.finish({
          kind: 'error',
          error: TRPCClientError.from<AnyTRPCRouter>({ error: shape } as never),
          fromProcedure: true,
        });
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
        const data = this.#deserialize(message.data);
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
