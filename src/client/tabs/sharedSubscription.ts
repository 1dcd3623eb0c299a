import type { Unsubscribable } from '@trpc/server/observable';
import type { AnyClientError } from '../errors.js';
import { completeAsStopped, stateEnvelope, type EnvelopeObserver, type SubscriptionRequest } from '../transport.js';
import { errorFromData, type EnvelopeData } from './tabMessages.js';

/**
 * One subscription of this tab under tab sharing. Whoever carries it — this tab's own
 * transport while it leads, the leader tab while it follows — it stays this object, so the
 * app's observer sees one subscription across leader changes: its last tracked id travels
 * with it, and a move to a new leader is invisible (no second `started`, no `connecting`
 * flash), as a drain handover is.
 */
export class SharedSubscription {
  readonly id: string;
  readonly request: SubscriptionRequest;
  /** The last tracked id delivered: a new carrier resumes from it. */
  lastEventId: string | undefined;
  /** What carries it now in this tab (its transport's handle), if this tab does. */
  carrier: Unsubscribable | undefined;
  #ended = false;
  #started = false;
  /** Being moved to a new carrier while it was running: its restart is not news to the app. */
  #moving = false;
  #reported: 'idle' | 'connecting' | 'pending' | null = null;
  /** Bumped on every move: a carrier's late emissions are recognised and dropped. */
  #generation = 0;

  constructor(id: string, request: SubscriptionRequest) {
    this.id = id;
    this.request = request;
    const lastEventId = (request.op.input as { lastEventId?: unknown } | undefined)?.lastEventId;
    if (typeof lastEventId === 'string') this.lastEventId = lastEventId;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /**
   * It moves to a new carrier: emissions of the old one are dropped from now on. Returns the
   * generation the new carrier's emissions must carry.
   */
  move(): number {
    this.#moving = this.#started;
    this.carrier = undefined;
    return ++this.#generation;
  }

  current(generation: number): boolean {
    return !this.#ended && generation === this.#generation;
  }

  /** An observer for a transport of this tab carrying it (its values already deserialized). */
  observerFor(generation: number, ended: () => void): EnvelopeObserver {
    return {
      next: (envelope) => {
        if (!this.current(generation)) return;
        const result = envelope.result as {
          type?: string;
          state?: 'idle' | 'connecting' | 'pending';
          error?: AnyClientError | null;
          id?: string;
          data?: unknown;
        };
        if (result.type === 'started') return this.#onStarted();
        if (result.type === 'state') return this.state(result.state!, result.error ?? null);
        if (result.type === 'stopped') return this.request.observer.next(envelope);
        if (result.id !== undefined) this.lastEventId = result.id;
        this.request.observer.next(envelope);
      },
      error: (error) => {
        if (!this.current(generation)) return;
        this.fail(error);
        ended();
      },
      complete: () => {
        // Its carrier ended it (the server returned): `stopped` and `idle` came before.
        if (!this.current(generation)) return;
        this.#ended = true;
        this.request.observer.complete();
        ended();
      },
    };
  }

  /** An envelope relayed by the leader tab (values still as the server sent them). */
  relayed(envelope: EnvelopeData): void {
    if (this.#ended) return;
    switch (envelope.type) {
      case 'started':
        return this.#onStarted();
      case 'stopped':
        return this.request.observer.next({ result: { type: 'stopped' } });
      case 'state':
        return this.state(envelope.state.state, envelope.state.error ? errorFromData(envelope.state.error) : null);
      case 'data': {
        const data: unknown = this.request.transformer.output.deserialize(envelope.data);
        if (envelope.id === undefined) return this.request.observer.next({ result: { data } });
        this.lastEventId = envelope.id;
        // The shape tRPC's own links emit for `tracked()` values: `retryLink` reads `result.id`.
        this.request.observer.next({ result: { id: envelope.id, data: { id: envelope.id, data } } } as never);
        return;
      }
    }
  }

  /** Its state, as the app's `useSubscription` sees it: no repeats, and none while it moves unless it failed. */
  state(state: 'idle' | 'connecting' | 'pending', error: AnyClientError | null): void {
    if (this.#ended || (this.#moving && error === null) || (state === this.#reported && error === null)) return;
    this.#reported = state;
    this.request.observer.next(stateEnvelope(state, error));
  }

  #onStarted(): void {
    if (this.#ended) return;
    this.#started = true;
    if (this.#moving) {
      this.#moving = false;
      return;
    }
    this.request.observer.next({ result: { type: 'started' } });
  }

  /** The app unsubscribed: complete, without `stopped` (which means the server ended it). */
  cancel(): void {
    if (this.#end()) this.request.observer.complete();
  }

  /** The client closed: `stopped`, `idle`, complete. */
  close(): void {
    if (this.#end()) completeAsStopped(this.request.observer);
  }

  /** The leader tab relayed its end: completed (after `stopped` and `idle`), or failed. */
  finish(error: AnyClientError | null): void {
    if (error) this.fail(error);
    else if (this.#end()) this.request.observer.complete();
  }

  fail(error: AnyClientError): void {
    if (this.#end()) this.request.observer.error(error);
  }

  #end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#generation++;
    const carrier = this.carrier;
    this.carrier = undefined;
    carrier?.unsubscribe();
    return true;
  }
}
