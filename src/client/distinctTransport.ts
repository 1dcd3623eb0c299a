import { DistinctSubscription, type EnvelopeObserver } from './distinctSubscription.js';
import type { ClientRuntime } from './runtime.js';
import type { Transport } from './transport.js';

/** One event stream per subscription: tRPC's own dialect, for servers without multiplexing. */
export function createDistinctTransport(runtime: ClientRuntime): Transport {
  const live = new Map<DistinctSubscription, EnvelopeObserver>();
  return {
    subscribe(op, transformer, observer) {
      const subscription = new DistinctSubscription(runtime, op, transformer, {
        next: (envelope) => observer.next(envelope),
        error: (error) => {
          live.delete(subscription);
          observer.error(error);
        },
        complete: () => {
          live.delete(subscription);
          observer.complete();
        },
      });
      live.set(subscription, observer);
      subscription.start();
      return {
        unsubscribe() {
          live.delete(subscription);
          subscription.stop();
        },
      };
    },
    close() {
      for (const [subscription, observer] of live) {
        subscription.stop();
        observer.next({ result: { type: 'stopped' } });
        observer.complete();
      }
      live.clear();
    },
  };
}
