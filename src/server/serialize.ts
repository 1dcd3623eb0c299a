import type { AnyTRPCRouter, TRPCError } from '@trpc/server';
import { tagBinary } from '../codec/binary.js';
import { sharedValueOf } from '../log/sharedValue.js';
import { toErrorShape, type ErrorScope } from './errorShape.js';
import type { SSERequest } from './request.js';
import type { ResolvedServerOptions } from './resolveOptions.js';

/**
 * Our client asks for tagged bytes with an Accept parameter. Others (a stock tRPC client,
 * EventSource) get exactly what tRPC's server would send them, transformer output included.
 */
export function acceptsTaggedBinary(req: SSERequest): boolean {
  return req.headers.get('accept')?.includes('trpc-sse-binary=base64') ?? false;
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
      return json === undefined ? 'null' : json;
    };
  }

  toJSON(value: unknown): string {
    return this.#serialize(value);
  }

  /**
   * The JSON of a tracked envelope's data. A value from the event log is sent to many
   * readers: it is serialized once for all of them.
   */
  trackedJSON(envelope: readonly unknown[]): string {
    const shared = sharedValueOf(envelope);
    return shared ? shared.json(this, this.#serialize) : this.#serialize(envelope[1]);
  }
}

/** The error's shape through the router's formatter and transformer, as JSON. */
export function serializeErrorShape(router: AnyTRPCRouter, error: TRPCError, scope: ErrorScope): string {
  try {
    return JSON.stringify(router._def._config.transformer.output.serialize(toErrorShape(router, error, scope)));
  } catch {
    // A broken errorFormatter or transformer must still leave the client a typed error.
    return JSON.stringify({ message: error.message, code: -32603, data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 } });
  }
}
