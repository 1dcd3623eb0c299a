import { BINARY_ACCEPT_PARAM } from '../protocol.js';
import type { AnyTRPCRouter, TRPCError } from '@trpc/server';
import { tagBinary } from '../codec/binary.js';
import { encodeEvent } from '../codec/encoder.js';
import { sharedValueOf, type SharedValue } from '../log/sharedValue.js';
import { toErrorShape, type ErrorScope } from './errorShape.js';
import type { SSERequest } from './request.js';
import type { ResolvedServerOptions } from './resolveOptions.js';
import { valueBody } from './valueFrame.js';

/**
 * Our client asks for tagged bytes with an Accept parameter. Others (a stock tRPC client,
 * EventSource) get exactly what tRPC's server would send them, transformer output included.
 */
function acceptsTaggedBinary(req: SSERequest): boolean {
  return req.headers.get('accept')?.includes(BINARY_ACCEPT_PARAM) ?? false;
}

const serializers = new WeakMap<object, { plain?: ValueSerializer; tagged?: ValueSerializer }>();

/**
 * Serializes values for a stream: bytes tagged (if the client revives them), the router's
 * transformer, JSON. Streams with the same setting share one (see {@link ValueSerializer.for}),
 * which is also the key of a shared value's cached JSON.
 */
export class ValueSerializer {
  readonly #serialize: (value: unknown) => string;

  /** The serializer for a stream of `req`: one per (router, tagged bytes or not), not one per stream. */
  static for(options: ResolvedServerOptions, req: SSERequest): ValueSerializer {
    const tagBytes = options.binary && acceptsTaggedBinary(req);
    let byRouter = serializers.get(options.router);
    if (!byRouter) serializers.set(options.router, (byRouter = {}));
    const slot = tagBytes ? 'tagged' : 'plain';
    return (byRouter[slot] ??= new ValueSerializer(options.router, tagBytes));
  }

  private constructor(router: ResolvedServerOptions['router'], tagBytes: boolean) {
    const { transformer } = router._def._config;
    this.#serialize = (value) => {
      const json = JSON.stringify(transformer.output.serialize(tagBytes ? tagBinary(value) : value));
      // `undefined` has no JSON form; the wire needs text.
      return json ?? 'null';
    };
  }

  toJSON(value: unknown): string {
    return this.#serialize(value);
  }

  /**
   * A tracked value's multiplexed frame data after the subscription key (see `valueBody` in
   * valueFrame.ts). For an event-log value it is made once, for every subscriber of the event.
   */
  trackedBody(envelope: readonly unknown[]): string {
    const shared = sharedValueOf(envelope);
    return shared
      ? shared.derived(this.#bodyKey, this.#body)
      : valueBody(String(envelope[0]), this.#serialize(envelope[1]));
  }

  /** A tracked value's distinct-mode event (`id:`, `data:`); for an event-log value, made once for every subscriber. */
  trackedEvent(envelope: readonly unknown[]): string {
    const shared = sharedValueOf(envelope);
    return shared
      ? shared.derived(this.#eventKey, this.#event)
      : encodeEvent({ id: String(envelope[0]), data: this.#serialize(envelope[1]) });
  }

  readonly #bodyKey = {};
  readonly #body = (shared: SharedValue): string => valueBody(shared.id, shared.json(this, this.#serialize));
  readonly #eventKey = {};
  readonly #event = (shared: SharedValue): string =>
    encodeEvent({ id: shared.id, data: shared.json(this, this.#serialize) });
}

/** The error's shape through the router's formatter and transformer, as JSON. */
export function serializeErrorShape(router: AnyTRPCRouter, error: TRPCError, scope: ErrorScope): string {
  try {
    return JSON.stringify(router._def._config.transformer.output.serialize(toErrorShape(router, error, scope)));
  } catch {
    // A broken errorFormatter or transformer must still leave the client a typed error.
    return JSON.stringify({
      message: error.message,
      code: -32603,
      data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
    });
  }
}
