import { behaviorSubject, type BehaviorSubject } from '@trpc/server/observable';
import type { TRPCConnectionState } from '@trpc/client/unstable-internals';
import type { AnyClientError } from './errors.js';
import { CLIENT_DEFAULTS, type FetchLike, type ResetInfo, type SSEClientOptions } from './options.js';
import type { SubscriptionState } from './distinctSubscription.js';

/** Options with defaults applied. */
export type ResolvedClientOptions = SSEClientOptions & { maxLineLength: number };

/**
 * What subscriptions of one client share: options, `fetch`, the reconnect clock (woken
 * early when the browser comes back online) and the client-wide connection state.
 */
export class ClientRuntime {
  readonly options: ResolvedClientOptions;
  readonly fetch: FetchLike;
  readonly connectionState: BehaviorSubject<TRPCConnectionState<AnyClientError>>;
  readonly #states = new Map<object, SubscriptionState>();
  readonly #sleepers = new Set<() => void>();
  readonly #onOnline = (): void => {
    for (const wake of [...this.#sleepers]) wake();
  };

  constructor(options: SSEClientOptions) {
    this.options = { ...options, maxLineLength: options.maxLineLength ?? CLIENT_DEFAULTS.maxLineLength };
    const globalFetch = (globalThis as { fetch?: FetchLike }).fetch;
    const fetch = options.fetch ?? globalFetch;
    if (!fetch) throw new TypeError('trpc-sse: no global fetch; pass `fetch` to createSSEClient');
    // Unbound `fetch` throws "Illegal invocation" in browsers.
    this.fetch = options.fetch ?? ((url, init) => (globalFetch as FetchLike).call(globalThis, url, init));
    this.connectionState = behaviorSubject<TRPCConnectionState<AnyClientError>>({
      type: 'state',
      state: 'idle',
      error: null,
    });
    (globalThis as { addEventListener?: (type: string, fn: () => void) => void }).addEventListener?.('online', this.#onOnline);
  }

  /**
   * Waits `ms` before a reconnect. Resolves early when the browser reports it is back
   * online (the network that failed is likely working again) or `signal` aborts.
   */
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', wake);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      signal.addEventListener('abort', wake, { once: true });
      this.#sleepers.add(wake);
    });
  }

  /** A subscription was reset: tells the client's and the operation's `onReset`. */
  notifyReset(info: ResetInfo): void {
    this.options.onReset?.(info);
    const perOperation = (info.op.context as { onReset?: unknown } | undefined)?.onReset;
    if (typeof perOperation === 'function') (perOperation as (info: ResetInfo) => void)(info);
  }

  /** Sets the client-wide state directly (multiplexed mode: the one connection's state). */
  setConnectionState(next: TRPCConnectionState<AnyClientError>): void {
    const current = this.connectionState.get();
    if (current.state !== next.state || current.error !== next.error) this.connectionState.next(next);
  }

  /** A subscription's state changed (`null`: it ended); recomputes the client-wide state. */
  report(subscription: object, state: SubscriptionState | null): void {
    if (state) this.#states.set(subscription, state);
    else this.#states.delete(subscription);
    let next: TRPCConnectionState<AnyClientError> = { type: 'state', state: 'idle', error: null };
    for (const s of this.#states.values()) {
      if (s.state === 'connecting') {
        next = { type: 'state', state: 'connecting', error: s.error };
        break;
      }
      next = { type: 'state', state: 'pending', error: null };
    }
    this.setConnectionState(next);
  }

  dispose(): void {
    (globalThis as { removeEventListener?: (type: string, fn: () => void) => void }).removeEventListener?.(
      'online',
      this.#onOnline,
    );
    this.#onOnline();
  }
}
