import { TRPCClientError } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { clientErrorWithCode, type AnyClientError } from './errors.js';

/**
 * Application code the client calls (callbacks, `url`, `headers`, `connectionParams`,
 * `shouldRetry`) can throw, reject or never settle. None of that may reach the client's own
 * loops: a throw inside a reconnect loop would skip its backoff (a request storm) or leave a
 * promise rejected with nobody listening (a subscription stuck in `connecting`). So every call
 * goes through here.
 */

/**
 * The longest the client waits for `url`, `headers` or `connectionParams` to settle before it
 * gives the attempt up (as a retryable `TIMEOUT`) and, after its backoff, calls them again. A
 * token refresh that hangs must not hold a subscription forever.
 */
export const USER_FUNCTION_TIMEOUT_MS = 10_000;

/** Reports a throw from application code where a developer looks, without rethrowing it. */
export function reportUserError(where: string, cause: unknown): void {
  (globalThis as { console?: { error(...args: unknown[]): void } }).console?.error(`trpc-sse: ${where} threw`, cause);
}

/** Calls a callback of the application; a throw is reported, never propagated. */
export function callUserCallback<A extends unknown[]>(
  where: string,
  fn: ((...args: A) => unknown) | undefined,
  ...args: A
): void {
  if (!fn) return;
  try {
    const result = fn(...args);
    // An async callback's rejection would otherwise be unhandled.
    if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as Promise<unknown>).then(undefined, (cause: unknown) => reportUserError(where, cause));
    }
  } catch (cause) {
    reportUserError(where, cause);
  }
}

/**
 * A failure of application code the client needed for a request. It carries no tRPC code (no
 * server answered), so the retry policy treats it as a transport failure: retried, with backoff.
 */
function userCodeFailure(where: string, cause: unknown): AnyClientError {
  const message = cause instanceof Error ? cause.message : String(cause);
  const error = TRPCClientError.from<AnyTRPCRouter>(new Error(`trpc-sse: ${where} failed: ${message}`));
  (error as { cause?: unknown }).cause = cause;
  return error;
}

/**
 * Awaits a value from application code (a value, or a function returning one or a promise of
 * one), at most {@link USER_FUNCTION_TIMEOUT_MS} and no longer than `signal` stays unaborted.
 * Rejects with a typed error naming `where`; `null` when `signal` aborted first.
 */
export function settleUserValue<T>(
  where: string,
  value: T | (() => T | PromiseLike<T>),
  signal: AbortSignal,
): Promise<T | null> {
  let produced: T | PromiseLike<T>;
  try {
    produced = typeof value === 'function' ? (value as () => T | PromiseLike<T>)() : value;
  } catch (cause) {
    return Promise.reject(userCodeFailure(where, cause));
  }
  if (!produced || typeof (produced as PromiseLike<T>).then !== 'function') return Promise.resolve(produced as T);
  if (signal.aborted) return Promise.resolve(null);
  return new Promise<T | null>((resolve, reject) => {
    const finish = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      finish();
      resolve(null);
    };
    const timer = setTimeout(() => {
      finish();
      reject(
        clientErrorWithCode('TIMEOUT', `trpc-sse: ${where} did not settle within ${USER_FUNCTION_TIMEOUT_MS} ms`, 408),
      );
    }, USER_FUNCTION_TIMEOUT_MS);
    // Waiting on the application must not by itself keep a Node process alive.
    (timer as { unref?: () => void }).unref?.();
    signal.addEventListener('abort', onAbort, { once: true });
    (produced as PromiseLike<T>).then(
      (settled) => {
        finish();
        resolve(settled);
      },
      (cause: unknown) => {
        finish();
        reject(userCodeFailure(where, cause));
      },
    );
  });
}
