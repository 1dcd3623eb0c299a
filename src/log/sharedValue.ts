/**
 * A published value that many readers send: the log hands every reader the same instance,
 * and the server serializes it once per serialization setting (transformer, tagged bytes),
 * not once per subscriber. Safe because published data is immutable by the log's contract.
 */
export class SharedValue {
  readonly value: unknown;
  #json: Map<object, string> | undefined;

  constructor(value: unknown) {
    this.value = value;
  }

  /** The JSON of `value` for the serialization setting `key`, computed on first use. */
  json(key: object, serialize: (value: unknown) => string): string {
    this.#json ??= new Map();
    let text = this.#json.get(key);
    if (text === undefined) {
      text = serialize(this.value);
      this.#json.set(key, text);
    }
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
