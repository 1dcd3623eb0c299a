/**
 * The push path between trpc-sse's event logs and its server.
 *
 * A log subscription is an async generator, which is what apps and tRPC expect. Pulled that
 * way, every delivery to every subscriber costs a promise chain (`next()`, the generator's
 * `await`, the pump's `await`). When trpc-sse's own server pumps a log subscription, it asks
 * for the push path instead: the log calls the sink synchronously, for every reader of a
 * topic, in the same turn as `publish`. The reader still holds only a cursor; when the sink
 * is full it stops and catches up from the cursor once the sink drains, so nothing queues
 * per subscriber and nothing is lost or repeated.
 */

/** Where a push source delivers. Mirrors the pump's outlet. */
export interface PushSink {
  /** Takes one value; `false` when the reader is behind (the source then waits for {@link drained}). */
  value(value: unknown): boolean;
  drained(): Promise<void>;
  /** The source ended (the log closed, or the subscription's own signal aborted). */
  complete(): void;
  /** The source failed. */
  fail(cause: unknown): void;
}

/** A running push subscription. */
export interface PushHandle {
  /** Ends it from outside; no call reaches the sink afterwards. */
  stop(): void;
}

export interface PushOptions {
  /**
   * The signal the consumer aborts itself, right before it calls `stop()`. A source need not
   * watch it (a listener per subscription costs memory); any other signal it was given, it
   * still watches.
   */
  consumerSignal?: AbortSignal | undefined;
}

export const PUSH_SOURCE: unique symbol = Symbol.for('trpc-sse.pushSource');

/** A subscription that can also be pushed (see the module comment). */
export interface PushSource {
  [PUSH_SOURCE](sink: PushSink, options: PushOptions): PushHandle;
}

/**
 * The push side of `value`, when it has one that can still be taken: a subscription the app
 * has already started pulling (say it peeked at the first value) goes on being pulled.
 */
export function pushSourceOf(value: unknown): PushSource | undefined {
  if (typeof value !== 'object' || value === null || typeof (value as Partial<PushSource>)[PUSH_SOURCE] !== 'function')
    return undefined;
  return (value as { pushable?: boolean }).pushable === false ? undefined : (value as PushSource);
}

/**
 * An async generator that can be consumed by pulling (any app code, `for await`, `yield*`)
 * or by pushing, whichever comes first. The pull side is created on its first use, so a
 * subscription pushed from the start never builds a generator.
 */
export class PushableGenerator<T> implements AsyncGenerator<T, void, undefined>, PushSource {
  readonly #pull: () => AsyncGenerator<T, void, undefined>;
  readonly #push: (sink: PushSink, options: PushOptions) => PushHandle;
  #generator: AsyncGenerator<T, void, undefined> | undefined;
  #pushed = false;

  constructor(
    pull: () => AsyncGenerator<T, void, undefined>,
    push: (sink: PushSink, options: PushOptions) => PushHandle,
  ) {
    this.#pull = pull;
    this.#push = push;
  }

  next(): Promise<IteratorResult<T, void>> {
    return this.#pulled().next();
  }

  return(value?: void | PromiseLike<void>): Promise<IteratorResult<T, void>> {
    return this.#pulled().return(value);
  }

  throw(error: unknown): Promise<IteratorResult<T, void>> {
    return this.#pulled().throw(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Neither pulled nor pushed yet. */
  get pushable(): boolean {
    return !this.#generator && !this.#pushed;
  }

  [PUSH_SOURCE](sink: PushSink, options: PushOptions): PushHandle {
    if (this.#generator || this.#pushed) throw new Error('This subscription is already being consumed');
    this.#pushed = true;
    return this.#push(sink, options);
  }

  #pulled(): AsyncGenerator<T, void, undefined> {
    if (this.#pushed) throw new Error('This subscription is already being pushed');
    return (this.#generator ??= this.#pull());
  }
}

/**
 * What the logs' pushed readers share: the sink, the one signal they may watch, and ending
 * exactly once. A reader is its own handle and its own abort listener: a fan-out holds
 * thousands of them, so they carry no closures.
 */
export abstract class PushedReaderBase implements PushHandle {
  protected readonly sink: PushSink;
  readonly #signal: AbortSignal | undefined;
  #stopped = false;

  /** `signal`: one to watch (aborting it completes the reader); not the consumer's own. */
  constructor(sink: PushSink, signal: AbortSignal | undefined) {
    this.sink = sink;
    this.#signal = signal;
    signal?.addEventListener('abort', this, { once: true });
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** PushHandle: the consumer ends it. */
  stop(): void {
    this.end(false);
  }

  /** The watched signal aborted. */
  handleEvent(): void {
    this.end(true);
  }

  /** Ends it. `complete` tells the sink too (the log closed, or the watched signal aborted). */
  end(complete: boolean): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#signal?.removeEventListener('abort', this);
    this.leave();
    if (complete) this.sink.complete();
  }

  /** A failure reading or delivering: ends the reader and tells the sink, once. */
  protected failWith(cause: unknown): void {
    if (this.#stopped) return;
    this.end(false);
    this.sink.fail(cause);
  }

  /** Called once, when the reader ends: leave the topic. */
  protected abstract leave(): void;
}

/**
 * A log subscription: pulled as a generator, or pushed to a sink. Pushed after the log closed,
 * or with its signal aborted, it completes at once; else `startPush` starts a reader watching
 * `signal` (undefined when it is the consumer's own, which calls `stop()` itself).
 */
export function pushableSubscription<T>(
  options: { signal?: AbortSignal | undefined },
  isClosed: () => boolean,
  pull: () => AsyncGenerator<T, void, undefined>,
  startPush: (sink: PushSink, signal: AbortSignal | undefined) => PushHandle,
): PushableGenerator<T> {
  return new PushableGenerator(pull, (sink, pushOptions) => {
    const { signal } = options;
    if (isClosed() || signal?.aborted) {
      sink.complete();
      return { stop: () => undefined };
    }
    return startPush(sink, signal === pushOptions.consumerSignal ? undefined : signal);
  });
}
