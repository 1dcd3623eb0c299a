import type { Operation } from '@trpc/client';
import type { ResetReason } from '../log/reset.js';
import type { RetryOptions } from './retry.js';

type MaybePromise<T> = T | Promise<T>;

/** A value, or a (possibly async) function evaluated again on every connection attempt. */
export type Resolvable<T> = T | (() => MaybePromise<T>);

/** Request headers, as `fetch` takes them. */
export type HeadersInitLike = Record<string, string> | Array<[string, string]> | Headers;

/** The part of `Response` the client reads. */
export interface ResponseLike {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  readonly body: ReadableStream<Uint8Array> | null;
  text(): Promise<string>;
}

/** The part of `fetch` the client calls; inject your own for tests or odd runtimes. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; signal: AbortSignal; body?: string; cache?: 'no-store' },
) => Promise<ResponseLike>;

/** Options of {@link createSSEClient}. */
export interface SSEClientOptions {
  /** The tRPC endpoint, e.g. `https://api.example.com/trpc`. A function is called on every attempt. */
  url: Resolvable<string>;
  /**
   * Headers of every stream request (e.g. `Authorization`). A function is called on every
   * attempt, so a refreshed token is picked up by the next reconnect.
   */
  headers?: Resolvable<HeadersInitLike>;
  /**
   * Sent to the server's `createContext` as `info.connectionParams` (as with `wsLink`).
   * Called on every attempt.
   */
  connectionParams?: Resolvable<Record<string, string> | null>;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /** Reconnect policy and backoff bounds. */
  retry?: RetryOptions;
  /**
   * Longest line, and longest event data, the client accepts from the server, in characters;
   * anything longer is treated as a broken connection (reconnect), so a misbehaving server
   * cannot grow the client's memory without bound.
   * @default 16_777_216 (16 MiB)
   */
  maxLineLength?: number;
  /** Called when a stream is established. */
  onOpen?: () => void;
  /** Called when a stream ends or breaks; `cause` is set when it broke. */
  onClose?: (cause?: unknown) => void;
  /** Called on every connection failure, retried or not. */
  onError?: (error: unknown) => void;
  /**
   * A subscription could not resume from its last id (the server's log no longer holds it):
   * events continue from now, and what happened in between is unknown — refetch. Also called,
   * per subscription, as `context.onReset` of the operation when given.
   */
  onReset?: (info: ResetInfo) => void;
}

/** What {@link SSEClientOptions.onReset} is told. */
export interface ResetInfo {
  op: Operation;
  reason: ResetReason;
  /** Where the subscription continues from. */
  lastEventId: string | null;
}

export const CLIENT_DEFAULTS = { maxLineLength: 16 * 1024 * 1024 } as const;

/** Flattens any `HeadersInit` form into a plain record. */
export function headersToRecord(init: HeadersInitLike | undefined): Record<string, string> {
  if (!init) return {};
  if (Array.isArray(init)) return Object.fromEntries(init);
  if (typeof (init as Headers).forEach === 'function' && !(init.constructor === Object)) {
    const out: Record<string, string> = {};
    (init as Headers).forEach((value, key) => (out[key] = value));
    return out;
  }
  return { ...(init as Record<string, string>) };
}
