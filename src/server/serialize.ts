import type { AnyTRPCRouter, TRPCError } from '@trpc/server';
import { tagBinary } from '../codec/binary.js';
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

/** Serializes values for one stream: bytes tagged (if the client revives them), the router's transformer, JSON. */
export class ValueSerializer {
  readonly #serialize: (value: unknown) => unknown;
  readonly #tagBytes: boolean;

  constructor(options: ResolvedServerOptions, req: SSERequest) {
    const { transformer } = options.router._def._config;
    this.#serialize = (value) => transformer.output.serialize(value);
    this.#tagBytes = options.binary && acceptsTaggedBinary(req);
  }

  toJSON(value: unknown): string {
    const json = JSON.stringify(this.#serialize(this.#tagBytes ? tagBinary(value) : value));
    // `undefined` has no JSON form; the wire needs text.
    return json === undefined ? 'null' : json;
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
