import type { Operation } from '@trpc/client';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { errorCode, type AnyClientError } from './errors.js';

/** What a retry policy is asked about. */
export interface RetryContext {
  /** The failure. Transport failures (network, dropped stream) have no `data.code`. */
  error: AnyClientError;
  /** Failed attempts in a row so far, counting this one (1 on the first failure). */
  attempt: number;
  /** The subscription concerned (`undefined` for the multiplexed connection itself). */
  op: Operation | undefined;
  /**
   * `'procedure'`: the server ran the subscription and it failed (an error the procedure,
   * its middleware or `createContext` threw, sent in-band). `'transport'`: everything else —
   * network, proxies, a dropped or silent stream, a refused connection.
   */
  source: 'procedure' | 'transport';
}

/** The reconnect policy of a client. */
export interface RetryOptions {
  /**
   * Whether to reconnect after `error`. Return `false` to fail the subscription with it.
   * One subscription may override it through its operation's context: `context: { retry: false }`
   * (never retry it: its procedure has side effects) or `context: { retry: (ctx) => boolean }`.
   * @default {@link defaultShouldRetry}: transport failures and retryable tRPC codes, forever
   */
  shouldRetry?: (ctx: RetryContext) => boolean;
  /**
   * Smallest wait before a reconnect, in ms. When left out, a server's `retry:` field sets it.
   * @default 500
   */
  minDelayMs?: number;
  /**
   * Largest wait before a reconnect, in ms: the exponential growth stops here.
   * @default 30_000
   */
  maxDelayMs?: number;
}

/**
 * tRPC codes worth another attempt: the server or something before it is having trouble,
 * not the request. tRPC's own `retryableRpcCodes` plus rate limiting and timeouts.
 */
export const RETRYABLE_CODES: ReadonlySet<TRPC_ERROR_CODE_KEY> = new Set<TRPC_ERROR_CODE_KEY>([
  'BAD_GATEWAY',
  'SERVICE_UNAVAILABLE',
  'GATEWAY_TIMEOUT',
  'INTERNAL_SERVER_ERROR',
  'TOO_MANY_REQUESTS',
  'TIMEOUT',
]);

/**
 * Retries, without limit: transport failures (no code), and {@link RETRYABLE_CODES} — except
 * `INTERNAL_SERVER_ERROR` thrown by the procedure itself, which reaches `onError` as with
 * `wsLink` (retrying would run the failing procedure again and again). A 500 from the
 * transport (a crashed upstream, a proxy) is retried.
 */
export function defaultShouldRetry(ctx: RetryContext): boolean {
  const code = errorCode(ctx.error);
  if (code === undefined) return true;
  if (code === 'INTERNAL_SERVER_ERROR') return ctx.source === 'transport';
  return RETRYABLE_CODES.has(code);
}

export const RETRY_DEFAULTS = { minDelayMs: 500, maxDelayMs: 30_000 } as const;

/**
 * "Full jitter" exponential backoff: a uniform pick between the floor and
 * `min(cap, floor · 2^attempt)`. Spreading reconnects uniformly is what keeps thousands of
 * clients from hitting a restarted server in the same instant.
 */
export function backoffDelay(
  attempt: number,
  minDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt, 30));
  const floor = Math.min(minDelayMs, ceiling);
  return Math.round(floor + random() * (ceiling - floor));
}
