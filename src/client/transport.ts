import type { Operation, OperationResultEnvelope } from '@trpc/client';
import type { TRPCCombinedDataTransformer } from '@trpc/server';
import type { Unsubscribable } from '@trpc/server/observable';
import type { AnyClientError } from './errors.js';

/** The observer a link hands us: tRPC's envelopes, typed errors. */
export interface EnvelopeObserver {
  next(envelope: OperationResultEnvelope<unknown, AnyClientError>): void;
  error(error: AnyClientError): void;
  complete(): void;
}

/** What a subscription asks of its transport: the operation, how its values travel, who hears them. */
export interface SubscriptionRequest {
  op: Operation;
  transformer: TRPCCombinedDataTransformer;
  observer: EnvelopeObserver;
  /** Where to resume from, when it is not the input's `lastEventId` (a subscription moving between tabs). */
  lastEventId?: string;
}

/** The state a subscription reports to its client, for the client-wide `connectionState`. */
export type SubscriptionState = { state: 'connecting'; error: AnyClientError | null } | { state: 'pending' };

/**
 * How a client carries subscriptions: one stream each (distinct) or one for all (multiplexed).
 * The transport keeps the one record of each subscription it carries. `unsubscribe()`
 * completes the subscription's observer (as tRPC's own links do on teardown); `close()` stops
 * every subscription, each completing.
 */
export interface Transport {
  subscribe(request: SubscriptionRequest): Unsubscribable;
  close(): void;
}

/** `state` envelopes: tRPC's client types them on `wsLink`'s results only, so they are cast once, here. */
export function stateEnvelope(
  state: 'idle' | 'connecting' | 'pending',
  error: AnyClientError | null = null,
): OperationResultEnvelope<unknown, AnyClientError> {
  return { result: { type: 'state', state, error } } as unknown as OperationResultEnvelope<unknown, AnyClientError>;
}

/** What a subscription ended by its server emits: `stopped`, then `idle`, then completes. */
export function completeAsStopped(observer: EnvelopeObserver): void {
  observer.next({ result: { type: 'stopped' } });
  observer.next(stateEnvelope('idle'));
  observer.complete();
}
