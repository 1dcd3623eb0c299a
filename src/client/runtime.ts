import { behaviorSubject, type BehaviorSubject } from '@trpc/server/observable';
import type { TRPCConnectionState } from '@trpc/client/unstable-internals';
import type { AnyClientError } from './errors.js';
import { checkEndpoint } from './endpoint.js';
import { CLIENT_DEFAULTS, headersToRecord, type FetchLike, type ResetInfo, type SSEClientOptions } from './options.js';
import { RELAYED } from './tabs/relayed.js';
import type { SubscriptionState } from './transport.js';
import { backoffDelay, defaultShouldRetry, RETRY_DEFAULTS, type RetryContext } from './retry.js';
import { callUserCallback, reportUserError, settleUserValue } from './userCode.js';

/** What one request is made with: `url`, `headers` and `connectionParams` as the app gave them now. */
export interface RequestInputs {
  /** The endpoint (checked: absolute, or relative in a browser). */
  url: string;
  headers: Record<string, string>;
  connectionParams: Record<string, string> | null;
}

/**
 * What a devtools panel shows about a client's connection, kept current by its loops
 * (`client.inspect()` adds the mode, the tab role and the connection state).
 */
export interface ClientInspection {
  /** Event streams being read now (multiplexed: at most one, two during a drain handover; distinct: one per running subscription). */
  openStreams: number;
  /** When a stream last opened (ms since the epoch), or `null`. */
  lastOpenedAt: number | null;
  /** Failures in a row behind the wait now scheduled (0 once a stream opens). */
  attempt: number;
  /** When the next reconnect attempt is due (ms since the epoch); `null` when none waits. */
  nextRetryAt: number | null;
  /** The last failure reported to `onError`, and when. */
  lastError: AnyClientError | null;
  lastErrorAt: number | null;
}

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
  readonly #inspection: ClientInspection = {
    openStreams: 0,
    lastOpenedAt: null,
    attempt: 0,
    nextRetryAt: null,
    lastError: null,
    lastErrorAt: null,
  };
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
    this.fetch = options.fetch ?? ((url, init) => globalFetch!.call(globalThis, url, init));
    this.connectionState = behaviorSubject<TRPCConnectionState<AnyClientError>>({
      type: 'state',
      state: 'idle',
      error: null,
    });
    (globalThis as { addEventListener?: (type: string, fn: () => void) => void }).addEventListener?.(
      'online',
      this.#onOnline,
    );
  }

  /**
   * Waits `ms` before a reconnect. Resolves early when the browser reports it is back
   * online (the network that failed is likely working again) or `signal` aborts.
   */
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    const dueAt = Date.now() + ms;
    this.#inspection.nextRetryAt = dueAt;
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        if (this.#inspection.nextRetryAt === dueAt) this.#inspection.nextRetryAt = null;
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
    const context = info.op.context as { onReset?: unknown; [RELAYED]?: boolean } | undefined;
    // A subscription this tab carries for another (tab sharing): that tab's `onReset` is told.
    if (!context?.[RELAYED]) callUserCallback('onReset', this.options.onReset, info);
    const perOperation = context?.onReset;
    if (typeof perOperation === 'function')
      callUserCallback('context.onReset', perOperation as (info: ResetInfo) => void, info);
  }

  /** `onError`, guarded: the app's callback cannot break the loop that reports to it. */
  notifyError(error: AnyClientError): void {
    this.#inspection.lastError = error;
    this.#inspection.lastErrorAt = Date.now();
    callUserCallback('onError', this.options.onError, error);
  }

  notifyOpen(): void {
    this.#inspection.lastOpenedAt = Date.now();
    this.#inspection.attempt = 0;
    callUserCallback('onOpen', this.options.onOpen);
  }

  /** An event stream began (`+1`) or ended (`-1`) being read. */
  countStream(delta: 1 | -1): void {
    this.#inspection.openStreams += delta;
  }

  /** A snapshot of {@link ClientInspection}. */
  inspect(): ClientInspection {
    return { ...this.#inspection };
  }

  notifyClose(cause?: AnyClientError): void {
    callUserCallback('onClose', this.options.onClose, cause);
  }

  /**
   * Whether to try again: the operation's own policy (`context.retry`: `false`, or a function),
   * else the client's, else the default. A policy that throws is reported and the default decides.
   */
  shouldRetry(ctx: RetryContext): boolean {
    const perOperation = (ctx.op?.context as { retry?: unknown } | undefined)?.retry;
    if (perOperation === false) return false;
    const policy =
      typeof perOperation === 'function'
        ? (perOperation as (ctx: RetryContext) => boolean)
        : this.options.retry?.shouldRetry;
    if (!policy) return defaultShouldRetry(ctx);
    try {
      // The app's policy may be plain JavaScript: only `true` retries.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-boolean-literal-compare -- see above
      return policy(ctx) === true;
    } catch (cause) {
      reportUserError('retry.shouldRetry', cause);
      return defaultShouldRetry(ctx);
    }
  }

  /**
   * Multiplexed mode, when the shared connection fails: whether this subscription's own policy
   * (`context.retry`) says not to try it again. Without one, the connection's decision stands.
   */
  operationForbidsRetry(ctx: RetryContext): boolean {
    const perOperation = (ctx.op?.context as { retry?: unknown } | undefined)?.retry;
    return perOperation !== undefined && !this.shouldRetry(ctx);
  }

  /**
   * The wait before reconnect attempt `attempt`: full-jitter backoff between the floor and
   * `maxDelayMs`. The floor is the app's `minDelayMs` when it set one, else the server's
   * `retry:` advice when given, else the default.
   */
  backoff(attempt: number, serverRetryMs?: number): number {
    this.#inspection.attempt = attempt;
    return this.retryDelay(attempt, serverRetryMs);
  }

  /** The delay before attempt `attempt` by the app's retry options, not reported as the connection's. */
  retryDelay(attempt: number, serverRetryMs?: number): number {
    const retry = this.options.retry ?? {};
    const minDelayMs = retry.minDelayMs ?? serverRetryMs ?? RETRY_DEFAULTS.minDelayMs;
    const maxDelayMs = Math.max(minDelayMs, retry.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs);
    return backoffDelay(attempt, minDelayMs, maxDelayMs);
  }

  /**
   * Evaluates `url`, `headers` and `connectionParams` for one request (they may change between
   * attempts: tokens expire). Rejects with a typed error when the app's code throws, rejects or
   * does not settle in time ({@link settleUserValue}), or the URL cannot work here
   * ({@link checkEndpoint}); `null` when `signal` aborted meanwhile.
   */
  async requestInputs(signal: AbortSignal): Promise<RequestInputs | null> {
    const { options } = this;
    const [url, headers, connectionParams] = await Promise.all([
      settleUserValue('url', options.url, signal),
      this.requestHeaders(signal),
      settleUserValue('connectionParams', options.connectionParams ?? null, signal),
    ]);
    if (signal.aborted || !headers) return null;
    return { url: checkEndpoint(url), headers, connectionParams: connectionParams ?? null };
  }

  /** Only the headers (a control request's), evaluated as for {@link requestInputs}. */
  async requestHeaders(signal: AbortSignal): Promise<Record<string, string> | null> {
    const headers = await settleUserValue('headers', this.options.headers, signal);
    return signal.aborted ? null : headersToRecord(headers ?? undefined);
  }

  /** Sets the client-wide state directly (multiplexed mode: the one connection's state). */
  setConnectionState(next: TRPCConnectionState<AnyClientError>): void {
    const current = this.connectionState.get();
    if (current.state === next.state && current.error === next.error) return;
    try {
      this.connectionState.next(next);
    } catch (cause) {
      // An app's observer threw (the subject calls them in turn, unguarded): reported, and
      // never through the transport's loop or timers.
      reportUserError('a connectionState observer', cause);
    }
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
