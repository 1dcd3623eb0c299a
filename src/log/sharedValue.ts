/**
 * A published value that many readers send: the log hands every reader the same instance,
 * and the server serializes it (and builds what of its frames does not depend on the
 * subscriber) once per serialization setting (transformer, tagged bytes), not once per
 * subscriber. Safe because published data is immutable by the log's contract.
 */
export class SharedValue {
  /** The event's id, as its `tracked()` envelope carries it. */
  readonly id: string;
  readonly value: unknown;
  /** When the log took the event (ms since the epoch), for the server's delivery lag; NaN when unknown. */
  readonly publishedAt: number;
  #texts: Map<object, string> | undefined;

  constructor(id: string, value: unknown, publishedAt = Number.NaN) {
    this.id = id;
    this.value = value;
    this.publishedAt = publishedAt;
  }

  /** The JSON of `value` for the serialization setting `key`, computed on first use. */
  json(key: object, serialize: (value: unknown) => string): string {
    return this.#texts?.get(key) ?? this.#keep(key, serialize(this.value));
  }

  /** Any other text made from this event for `key` (a frame), computed on first use. */
  derived(key: object, derive: (shared: SharedValue) => string): string {
    return this.#texts?.get(key) ?? this.#keep(key, derive(this));
  }

  #keep(key: object, text: string): string {
    (this.#texts ??= new Map()).set(key, text);
    return text;
  }
}

/**
 * A `tracked()` envelope that also carries the shared value. Apps (and tRPC itself) see an
 * ordinary envelope with the plain data; trpc-sse's server finds the shared JSON cache in a
 * fourth slot tRPC never reads.
 */
export function withSharedValue<T>(envelope: readonly unknown[], shared: SharedValue): T {
  (envelope as unknown[])[3] = shared;
  return envelope as unknown as T;
}

/** The shared value of an envelope made by {@link withSharedValue}, if any. */
export function sharedValueOf(envelope: readonly unknown[]): SharedValue | undefined {
  const candidate = envelope[3];
  return candidate instanceof SharedValue ? candidate : undefined;
}
