/**
 * `trpc-sse/client/distinct`: the client without the multiplexed protocol, for apps whose
 * server is stock tRPC (`httpSubscriptionLink`'s dialect) or that want one stream per
 * subscription. The same `sseLink` and `createSSEClient` as `trpc-sse/client`, with
 * `mode: 'distinct'` built in: the multiplexed transport is not in the bundle.
 * No Node built-ins: runs in browsers.
 * @module
 */
import type { TRPCLink } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { clientHandle, type SSEClient } from '../clientHandle.js';
import { linkOver, type LinkTransformerOptions } from '../linkOver.js';
import type { SSEClientOptions } from '../options.js';
import { ClientRuntime } from '../runtime.js';
import { createDistinctTransport } from './distinctTransport.js';

export type { SSEClient, SSEClientInspection } from '../clientHandle.js';
export type { ClientInspection } from '../runtime.js';
export type { FetchLike, HeadersInitLike, Resolvable, ResetInfo, ResponseLike, SSEClientOptions } from '../options.js';
export type { ResetReason } from '../../log/reset.js';
export {
  backoffDelay,
  defaultShouldRetry,
  RETRYABLE_CODES,
  RETRY_DEFAULTS,
  type RetryContext,
  type RetryOptions,
} from '../retry.js';
export { CORS_METHODS, CORS_REQUEST_HEADERS } from '../../protocol.js';

/** Options of this entry's {@link sseLink}: a shared `client`, or the options to make one. */
export type SSELinkOptions<TRouter extends AnyTRPCRouter> = ({ client: SSEClient } | SSEClientOptions) &
  LinkTransformerOptions<TRouter>;

/**
 * A client with one event stream per subscription, in tRPC's own dialect: it works against
 * stock tRPC servers and trpc-sse servers alike. Its `mode` is always `'distinct'`.
 */
export function createSSEClient(opts: SSEClientOptions): SSEClient {
  const runtime = new ClientRuntime(opts);
  const transport = createDistinctTransport(runtime);
  return clientHandle(runtime, () => transport, { mode: 'distinct', fallbackReason: null });
}

/** The tRPC link over a distinct-mode client: put it where `httpSubscriptionLink` or `wsLink` was. */
export function sseLink<TRouter extends AnyTRPCRouter>(opts: SSELinkOptions<TRouter>): TRPCLink<TRouter> {
  return linkOver('client' in opts ? opts.client : createSSEClient(opts), opts);
}
