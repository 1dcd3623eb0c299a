import type { Operation } from '@trpc/client';
import type { TRPCCombinedDataTransformer } from '@trpc/server';
import type { Unsubscribable } from '@trpc/server/observable';
import type { EnvelopeObserver } from './distinctSubscription.js';

/** How a client carries subscriptions: one stream each (distinct) or one for all (multiplexed). */
export interface Transport {
  subscribe(op: Operation, transformer: TRPCCombinedDataTransformer, observer: EnvelopeObserver): Unsubscribable;
  close(): void;
}
