import type { Unsubscribable } from '@trpc/server/observable';
import { PUSH_SOURCE, pushSourceOf, type PushHandle } from '../log/pushSource.js';
import type { SubscriptionSource } from './subscriptionCall.js';

/** Where a pump delivers what a procedure produces. */
export interface PumpOutlet {
  /** Writes one value; `false` when the reader is behind (the pump then awaits `drained`). */
  value(value: unknown): boolean;
  drained(): Promise<void>;
  /**
   * Checked after each value of an observable, which cannot wait: `true` when too much is
   * queued, and the outlet must end the subscription resumably.
   */
  overBudget(): boolean;
  /** The procedure completed. */
  complete(): void;
  /** The procedure (or serializing its value) failed. */
  fail(cause: unknown): void;
  /** Observables only: the pump stopped on `overBudget`. */
  overflow(): void;
}

/** A running pump; `stop()` ends it from outside (client left, unsubscribe, shutdown). */
export interface Pump {
  stop(): void;
}

/**
 * Moves values from a subscription source to an outlet. `signal` is the one the caller
 * aborts right before `stop()`: a pushed source need not watch it.
 *
 * An async generator is not asked for its next value until the outlet has room, so a slow
 * reader slows the procedure instead of growing a queue. `stop()` calls `iterator.return()`,
 * which runs the generator's `finally` as soon as its pending step settles (the caller aborts
 * the procedure's signal first, so a step awaiting it settles at once). The iterator is never
 * raced with `Promise.race` per value: that would leak a handler per value.
 */
export function pumpSource(source: SubscriptionSource, outlet: PumpOutlet, signal?: AbortSignal): Pump {
  let stopped = false;
  const pushable = source.kind === 'iterable' ? pushSourceOf(source.value) : undefined;
  if (pushable) {
    // An event log's subscription: values are pushed in the turn they are published, with no
    // promise per value (see pushSource.ts). The sink never throws into the log.
    let handle: PushHandle | undefined;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      handle?.stop();
    };
    const end = (then: () => void): void => {
      if (stopped) return;
      stop();
      then();
    };
    try {
      handle = pushable[PUSH_SOURCE](
        {
          value(value) {
            if (stopped) return true;
            try {
              return outlet.value(value);
            } catch (cause) {
              end(() => outlet.fail(cause));
              return true;
            }
          },
          drained: () => outlet.drained(),
          complete: () => end(() => outlet.complete()),
          fail: (cause) => end(() => outlet.fail(cause)),
        },
        { consumerSignal: signal },
      );
    } catch (cause) {
      end(() => outlet.fail(cause));
      return { stop };
    }
    // It may have ended while starting, before `handle` was assigned.
    if (stopped) handle.stop();
    return { stop };
  }
  if (source.kind === 'observable') {
    let subscription: Unsubscribable | undefined;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      subscription?.unsubscribe();
    };
    const observer = {
      next(value: unknown) {
        if (stopped) return;
        try {
          outlet.value(value);
        } catch (cause) {
          stop();
          outlet.fail(cause);
          return;
        }
        if (outlet.overBudget()) {
          stop();
          outlet.overflow();
        }
      },
      error(cause: unknown) {
        if (stopped) return;
        stop();
        outlet.fail(cause);
      },
      complete() {
        if (stopped) return;
        stop();
        outlet.complete();
      },
    };
    try {
      subscription = source.value.subscribe(observer);
    } catch (cause) {
      // The observable's own setup threw: a failure of the procedure like any other.
      if (!stopped) {
        stopped = true;
        outlet.fail(cause);
      }
      return { stop };
    }
    // `subscribe` may have finished synchronously, before `subscription` was assigned.
    if (stopped) subscription.unsubscribe();
    return { stop };
  }

  const iterator = source.value[Symbol.asyncIterator]();
  void (async () => {
    try {
      while (!stopped) {
        const result = await iterator.next();
        if (stopped) return;
        if (result.done) {
          stopped = true;
          outlet.complete();
          return;
        }
        if (!outlet.value(result.value)) await outlet.drained();
      }
    } catch (cause) {
      if (stopped) return;
      stopped = true;
      // The failure may be the outlet's (a value that cannot be serialized) while the
      // generator waits at its `yield`: end it so its `finally` runs.
      void iterator.return?.()?.catch(() => undefined);
      outlet.fail(cause);
    }
  })();
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      void iterator.return?.()?.catch(() => undefined);
    },
  };
}

/** Lets a source that will never be pumped clean up (the client left while it started). */
export function discardSource(source: SubscriptionSource): void {
  if (source.kind === 'iterable') void source.value[Symbol.asyncIterator]().return?.()?.catch(() => undefined);
}
