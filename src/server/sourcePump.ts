import type { Unsubscribable } from '@trpc/server/observable';
import { PUSH_SOURCE, pushSourceOf, type PushHandle, type PushSink, type PushSource } from '../log/pushSource.js';
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
  const pushable = source.kind === 'iterable' ? pushSourceOf(source.value) : undefined;
  if (pushable) return new PushPump(outlet).start(pushable, signal);
  let stopped = false;
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

  return new IteratorPump(source.value[Symbol.asyncIterator](), outlet).start();
}

/** Lets a source that will never be pumped clean up (the client left while it started). */
export function discardSource(source: SubscriptionSource): void {
  if (source.kind === 'iterable')
    void source.value[Symbol.asyncIterator]()
      .return?.()
      ?.catch(() => undefined);
}

/**
 * The async-iterable branch: one step at a time, as promise reactions rather than an async
 * function. An async function would keep its last `iterator.next()` result in its suspended
 * frame while it awaits the next one, so an idle subscription would pin the last value it
 * sent (however large) until its next value or its end; here nothing refers to a value once
 * the outlet has written it.
 */
class IteratorPump implements Pump {
  readonly #iterator: AsyncIterator<unknown>;
  readonly #outlet: PumpOutlet;
  #stopped = false;

  constructor(iterator: AsyncIterator<unknown>, outlet: PumpOutlet) {
    this.#iterator = iterator;
    this.#outlet = outlet;
  }

  start(): this {
    this.#pull();
    return this;
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#return();
  }

  #pull(): void {
    if (this.#stopped) return;
    let step: Promise<IteratorResult<unknown>>;
    try {
      step = Promise.resolve(this.#iterator.next());
    } catch (cause) {
      this.#failed(cause);
      return;
    }
    void step.then(this.#onStep, this.#onError);
  }

  readonly #onStep = (result: IteratorResult<unknown>): void => {
    if (this.#stopped) return;
    if (result.done) {
      this.#stopped = true;
      this.#outlet.complete();
      return;
    }
    let ready: boolean;
    try {
      ready = this.#outlet.value(result.value);
    } catch (cause) {
      this.#failed(cause);
      return;
    }
    if (ready) this.#pull();
    else void this.#outlet.drained().then(this.#onDrained, this.#onError);
  };

  readonly #onDrained = (): void => this.#pull();

  readonly #onError = (cause: unknown): void => this.#failed(cause);

  #failed(cause: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    // The failure may be the outlet's (a value that cannot be serialized) while the
    // generator waits at its `yield`: end it so its `finally` runs.
    this.#return();
    this.#outlet.fail(cause);
  }

  #return(): void {
    try {
      void this.#iterator.return?.()?.catch(() => undefined);
    } catch {
      // An iterator whose `return` throws has nothing more for us to end.
    }
  }
}

/**
 * The push branch: an event log's subscription calls this sink in the turn a value is
 * published, with no promise per value (see pushSource.ts). It is also the pump its caller
 * stops; one object per subscription, since a fan-out holds thousands. It never throws into
 * the log.
 */
class PushPump implements PushSink, Pump {
  readonly #outlet: PumpOutlet;
  #handle: PushHandle | undefined;
  #stopped = false;

  constructor(outlet: PumpOutlet) {
    this.#outlet = outlet;
  }

  start(source: PushSource, signal: AbortSignal | undefined): this {
    try {
      this.#handle = source[PUSH_SOURCE](this, { consumerSignal: signal });
    } catch (cause) {
      if (this.#end()) this.#outlet.fail(cause);
      return this;
    }
    // It may have ended while starting, before the handle was known.
    if (this.#stopped) this.#handle.stop();
    return this;
  }

  value(value: unknown): boolean {
    if (this.#stopped) return true;
    try {
      return this.#outlet.value(value);
    } catch (cause) {
      if (this.#end()) this.#outlet.fail(cause);
      return true;
    }
  }

  drained(): Promise<void> {
    return this.#outlet.drained();
  }

  complete(): void {
    if (this.#end()) this.#outlet.complete();
  }

  fail(cause: unknown): void {
    if (this.#end()) this.#outlet.fail(cause);
  }

  stop(): void {
    this.#end();
  }

  /** Stops the source; false when it already was. */
  #end(): boolean {
    if (this.#stopped) return false;
    this.#stopped = true;
    this.#handle?.stop();
    return true;
  }
}
