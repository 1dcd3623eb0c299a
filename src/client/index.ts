/**
 * `trpc-sse/client`: the tRPC link and the shared client. No Node built-ins: runs in browsers.
 * @module
 */
export { sseLink, type SSELinkOptions } from './sseLink.js';
export { createSSEClient, type CreateSSEClientOptions, type LazyOptions, type SSEClient } from './createSSEClient.js';
export type { SSEClientInspection } from './clientHandle.js';
export type { ClientInspection } from './runtime.js';
export { tabSharing, type TabRole, type TabShareOptions, type TabSharing } from './tabs/tabSharedTransport.js';
export type { FetchLike, HeadersInitLike, Resolvable, ResetInfo, ResponseLike, SSEClientOptions } from './options.js';
export type { ResetReason } from '../log/reset.js';
export {
  backoffDelay,
  defaultShouldRetry,
  RETRYABLE_CODES,
  RETRY_DEFAULTS,
  type RetryContext,
  type RetryOptions,
} from './retry.js';
export { CORS_METHODS, CORS_REQUEST_HEADERS } from '../protocol.js';
