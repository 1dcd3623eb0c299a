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

/** One key per (router, tagged bytes or not): what a shared value's JSON depends on. */
const settingKeys = new WeakMap<object, { plain: object; tagged: object }>();

function settingKey(router: object, tagBytes: boolean): object {
  let keys = settingKeys.get(router);
  if (!keys) {
    keys = { plain: {}, tagged: {} };
    settingKeys.set(router, keys);
  }
  return tagBytes ? keys.tagged : keys.plain;
}

/** Serializes values for one stream: bytes tagged (if the client revives them), the router's transformer, JSON. */
export class ValueSerializer {
  readonly #serialize: (value: unknown) => string;
  readonly #key: object;

  constructor(options: ResolvedServerOptions, req: SSERequest) {
    const { transformer } = options.router._def._config;
    const tagBytes = options.binary && acceptsTaggedBinary(req);
    this.#key = settingKey(options.router, tagBytes);
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
    return shared ? shared.json(this.#key, this.#serialize) : this.#serialize(envelope[1]);
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
