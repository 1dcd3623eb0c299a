import { TRPCClientError, type Operation } from '@trpc/client';
import type { AnyTRPCRouter, TRPCCombinedDataTransformer } from '@trpc/server';
import type { Unsubscribable } from '@trpc/server/observable';
import type { SubscribeOpWire } from '../../protocol.js';
import type { AnyClientError } from '../errors.js';
import { completeAsStopped, stateEnvelope, type EnvelopeObserver, type SubscriptionRequest } from '../transport.js';
import { deserializeValue } from '../wire.js';

/**
 * The client side of one subscription on a multiplexed connection: where it stands with the
 * server (sent on which connection, started, failures, a pending retry) and what its observer
 * has been told. Only its own methods change that state; the subscription table calls them.
 */
export class MuxClientSubscription {
  readonly id: string;
  readonly op: Operation;
  readonly transformer: TRPCCombinedDataTransformer;
  readonly #observer: EnvelopeObserver;
  /** The last tracked id delivered: a resubscribe resumes from it. */
  #lastEventId: string | undefined;
  /** The connection the current `subscribe` was sent on (null: not sent, or it ended there). */
  #sentOn: string | null = null;
  /** The server said `started` for the current `subscribe`. */
  #started = false;
  /** Failures in a row, for the backoff of a resubscribe. */
  #failures = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #ended = false;
  /**
   * Moved by a drain handover while running: the new connection's `started` is not news to
   * the app (wsLink keeps a server-asked move from the subscriber too).
   */
  #moving = false;
  /** The last state reported to the observer: `pending` is not reported twice in a row. */
  #reported: 'connecting' | 'pending' | null = null;
  /** Carried on by another transport (the client fell back to distinct mode). */
  #successor: Unsubscribable | undefined;

  constructor(id: string, { op, transformer, observer, lastEventId: resumeFrom }: SubscriptionRequest) {
    this.id = id;
    this.op = op;
    this.transformer = transformer;
    this.#observer = observer;
    const lastEventId = resumeFrom ?? (op.input as { lastEventId?: unknown } | undefined)?.lastEventId;
    if (typeof lastEventId === 'string') this.#lastEventId = lastEventId;
  }

  get ended(): boolean {
    return this.#ended;
  }

  get sentOn(): string | null {
    return this.#sentOn;
  }

  get started(): boolean {
    return this.#started;
  }

  /** Waiting out the backoff of a resubscribe: no connection should send it meanwhile. */
  get waitingToRetry(): boolean {
    return this.#retryTimer !== undefined;
  }

  /** The `subscribe` op that (re)starts it where it left off. Throws if its input cannot be serialized. */
  subscribeOp(): SubscribeOpWire {
    const op: SubscribeOpWire = { op: 'subscribe', id: this.id, path: this.op.path };
    if (this.op.input !== undefined) op.input = this.transformer.input.serialize(this.op.input);
    if (this.#lastEventId !== undefined) op.lastEventId = this.#lastEventId;
    return op;
  }

  /** Its `subscribe` went out on `connectionId` (in a control request, or on a stream's opening request). */
  sent(connectionId: string): void {
    this.#sentOn = connectionId;
    this.#started = false;
  }

  /** Its `subscribe` did not reach `connectionId`: a connection that opens sends it again. */
  notSent(connectionId: string): void {
    if (this.#sentOn === connectionId) this.#sentOn = null;
  }

  /**
   * It failed on its connection and will be tried again: counts the failure and returns the
   * count (the backoff's attempt number).
   */
  failedAttempt(): number {
    this.#sentOn = null;
    this.#started = false;
    return ++this.#failures;
  }

  /** Sends it again after `ms` (`resend` is skipped if a new connection sent it meanwhile). */
  retryAfter(ms: number, resend: () => void): void {
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#sentOn === null) resend();
    }, ms);
  }

  connecting(error: AnyClientError | null): void {
    if (this.#ended) return;
    // Its move failed: when it starts again the app hears of it.
    this.#moving = false;
    this.#reported = 'connecting';
    this.#observer.next(stateEnvelope('connecting', error));
  }

  /**
   * The connection is open (a subscription made on it starts here: as wsLink reports the
   * connection's state, a new subscription on an open connection is `pending` at once, and
   * React Query's `useSubscription` does not flash `connecting`).
   */
  pending(): void {
    if (this.#ended || this.#reported === 'pending') return;
    this.#reported = 'pending';
    this.#observer.next(stateEnvelope('pending'));
  }

  /**
   * The connection came back (resumed): subscriptions that were running are running again.
   * `started` is emitted as tRPC's own links do on every reconnect: React Query's
   * `useSubscription` leaves `connecting` only on `started` or data.
   */
  resumed(): void {
    if (this.#ended || !this.#started) return;
    this.#observer.next({ result: { type: 'started' } });
    this.pending();
  }

  /** A drain handover sends it again on a new connection, while the old one still delivers. */
  move(): void {
    if (this.#started) this.#moving = true;
  }

  onStarted(): void {
    if (this.#ended) return;
    this.#started = true;
    this.#failures = 0;
    if (this.#moving) this.#moving = false;
    else this.#observer.next({ result: { type: 'started' } });
    this.pending();
  }

  onData(trackedId: string | undefined, json: unknown, text: string): void {
    if (this.#ended) return;
    const data = deserializeValue(this.transformer, json, text);
    if (trackedId !== undefined) {
      this.#lastEventId = trackedId;
      // The shape tRPC's own links emit for `tracked()` values: `retryLink` reads `result.id`.
      this.#observer.next({ result: { id: trackedId, data: { id: trackedId, data } } } as never);
    } else {
      this.#observer.next({ result: { data } });
    }
  }

  /** The server's position for it (a checkpoint, or where a reset continues). */
  continueFrom(lastEventId: string | undefined): void {
    this.#lastEventId = lastEventId;
  }

  /** The server ended it with a failure; the error shape went through the transformer. */
  errorFrom(shape: unknown): AnyClientError {
    const error: unknown = this.transformer.output.deserialize(shape);
    return TRPCClientError.from<AnyTRPCRouter>({ error } as never);
  }

  /** The server ended it (or the client closed): `stopped`, `idle`, complete. */
  complete(): void {
    if (this.end()) completeAsStopped(this.#observer);
  }

  /** The app unsubscribed: complete, without `stopped` (which means the server ended it). */
  cancel(): void {
    if (this.end()) this.#observer.complete();
  }

  fail(error: AnyClientError): void {
    if (this.end()) this.#observer.error(error);
  }

  /** Ends it locally (no more emissions); false if it already had ended. */
  end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    return true;
  }

  /**
   * The client fell back to distinct mode: `carry` starts it again there (same observer), from
   * the last tracked id it delivered; the app's `unsubscribe` reaches the new subscription.
   */
  handOver(carry: (request: SubscriptionRequest) => Unsubscribable): void {
    this.end();
    this.#successor = carry({
      op: this.op,
      transformer: this.transformer,
      observer: this.#observer,
      ...(this.#lastEventId !== undefined ? { lastEventId: this.#lastEventId } : {}),
    });
  }

  /** The app's `unsubscribe`: false when it was handed over (the successor was told instead). */
  unsubscribeSuccessor(): boolean {
    if (!this.#successor) return false;
    this.#successor.unsubscribe();
    return true;
  }
}
