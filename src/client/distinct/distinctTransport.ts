import type { ClientRuntime } from '../runtime.js';
import type { Transport } from '../transport.js';
import { DistinctSubscription } from './distinctSubscription.js';

/** One event stream per subscription: tRPC's own dialect, for servers without multiplexing. */
export function createDistinctTransport(runtime: ClientRuntime): Transport {
  const live = new Set<DistinctSubscription>();
  return {
    subscribe(request) {
      const subscription = new DistinctSubscription(runtime, request, () => live.delete(subscription));
      live.add(subscription);
      subscription.start();
      return { unsubscribe: () => subscription.cancel() };
    },
    close() {
      for (const subscription of [...live]) subscription.close();
    },
  };
}
