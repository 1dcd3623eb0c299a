import type { ProcedurePath, SubscribeHandlers } from './types.js';

/** What tRPC's `client.x.subscribe(input, observer)` takes, from our handlers. */
function trpcObserver(h: SubscribeHandlers) {
  return {
    onStarted: () => h.onStarted(),
    onData: (value: unknown) => h.onData(value),
    onError: (error: unknown) => h.onError(error),
    onComplete: () => h.onComplete(),
  };
}

interface Subscribable {
  subscribe(input: unknown, observer: ReturnType<typeof trpcObserver>): { unsubscribe(): void };
}

/** `client[path].subscribe(...)` for a path chosen at run time (the four procedures share one shape here). */
export function subscribeAt(client: object, path: ProcedurePath, input: unknown, h: SubscribeHandlers): () => void {
  const procedure = (client as Record<ProcedurePath, Subscribable>)[path];
  const subscription = procedure.subscribe(input, trpcObserver(h));
  return () => subscription.unsubscribe();
}
