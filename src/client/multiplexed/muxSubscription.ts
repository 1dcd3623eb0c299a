import { TRPCClientError, type Operation } from '@trpc/client';
import type { AnyTRPCRouter, TRPCCombinedDataTransformer } from '@trpc/server';
import type { EnvelopeObserver } from '../distinctSubscription.js';
import type { AnyClientError } from '../errors.js';
import { deserializeValue } from '../wire.js';
import type { SubscribeOpWire } from '../../protocol.js';

/** The client side of one subscription on a multiplexed connection. */
export class MuxClientSubscription {
  readonly id: string;
  readonly op: Operation;
  readonly transformer: TRPCCombinedDataTransformer;
  readonly #observer: EnvelopeObserver;
  /** The last tracked id delivered: a resubscribe resumes from it. */
  lastEventId: string | undefined;
  /** The connection the current `subscribe` was sent on (null: not sent, or it ended there). */
  sentOn: string | null = null;
  /** The server said `started` for the current `subscribe`. */
  started = false;
  /** Failures in a row, for the backoff of a resubscribe. */
  failures = 0;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  #ended = false;
  /**
   * Moved by a drain handover while running: the new connection's `started` is not news to
   * the app (wsLink keeps a server-asked move from the subscriber too).
   */
  #moving = false;
  /** The last state reported to the observer: `pending` is not reported twice in a row. */
  #reported: 'connecting' | 'pending' | null = null;

  constructor(id: string, op: Operation, transformer: TRPCCombinedDataTransformer, observer: EnvelopeObserver) {
    this.id = id;
    this.op = op;
    this.transformer = transformer;
    this.#observer = observer;
    const lastEventId = (op.input as { lastEventId?: unknown } | undefined)?.lastEventId;
    if (typeof lastEventId === 'string') this.lastEventId = lastEventId;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The `subscribe` op that (re)starts it where it left off. */
  subscribeOp(): SubscribeOpWire {
    const op: SubscribeOpWire = { op: 'subscribe', id: this.id, path: this.op.path };
    if (this.op.input !== undefined) op.input = this.transformer.input.serialize(this.op.input);
    if (this.lastEventId !== undefined) op.lastEventId = this.lastEventId;
    return op;
  }

  connecting(error: AnyClientError | null): void {
    if (this.#ended) return;
    // Its move failed: when it starts again the app hears of it.
    this.#moving = false;
    this.#reported = 'connecting';
    this.#observer.next({ result: { type: 'state', state: 'connecting', error } as never });
  }

  /**
   * The connection is open (a subscription made on it starts here: as wsLink reports the
   * connection's state, a new subscription on an open connection is `pending` at once, and
   * React Query's `useSubscription` does not flash `connecting`).
   */
  pending(): void {
    if (this.#ended || this.#reported === 'pending') return;
    this.#reported = 'pending';
    this.#observer.next({ result: { type: 'state', state: 'pending', error: null } as never });
  }

  /**
   * The connection came back (resumed): subscriptions that were running are running again.
   * `started` is emitted as tRPC's own links do on every reconnect: React Query's
   * `useSubscription` leaves `connecting` only on `started` or data.
   */
  resumed(): void {
    if (this.#ended || !this.started) return;
    this.#observer.next({ result: { type: 'started' } });
    this.pending();
  }

  /** A drain handover sends it again on a new connection, while the old one still delivers. */
  move(): void {
    if (this.started) this.#moving = true;
  }

  onStarted(): void {
    if (this.#ended) return;
    this.started = true;
    this.failures = 0;
    if (this.#moving) this.#moving = false;
    else this.#observer.next({ result: { type: 'started' } });
    this.pending();
  }

  onData(trackedId: string | undefined, json: unknown, text: string): void {
    if (this.#ended) return;
    const data = deserializeValue(this.transformer, json, text);
    if (trackedId !== undefined) {
      this.lastEventId = trackedId;
      // The shape tRPC's own links emit for `tracked()` values: `retryLink` reads `result.id`.
      this.#observer.next({ result: { id: trackedId, data: { id: trackedId, data } } as never });
    } else {
      this.#observer.next({ result: { data } });
    }
  }

  /** The server ended it with a failure; the error shape went through the transformer. */
  errorFrom(shape: unknown): AnyClientError {
    return TRPCClientError.from<AnyTRPCRouter>({ error: this.transformer.output.deserialize(shape) } as never);
  }

  complete(): void {
    if (!this.end()) return;
    this.#observer.next({ result: { type: 'stopped' } });
    this.#observer.next({ result: { type: 'state', state: 'idle', error: null } as never });
    this.#observer.complete();
  }

  fail(error: AnyClientError): void {
    if (!this.end()) return;
    this.#observer.error(error);
  }

  /** Ends it locally (no more emissions); false if it already had ended. */
  end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    return true;
  }
}
