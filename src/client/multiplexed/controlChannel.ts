import { errorCode, type AnyClientError } from '../errors.js';
import { headersToRecord, resolve } from '../options.js';
import { errorFromResponse } from '../responseError.js';
import { backoffDelay, RETRY_DEFAULTS } from '../retry.js';
import { toClientError } from '../runEventStream.js';
import type { ClientRuntime } from '../runtime.js';

/** Where control requests go: the open connection. */
export interface ControlTarget {
  url: string;
  connectionId: string;
  secret: string;
}

export interface ControlChannelEvents {
  /** The server no longer knows the connection (404/403), or control requests keep failing. */
  lost(connectionId: string): void;
  /** The server refused these ops for what they are (400, 413): their subscriptions fail. */
  rejected(ops: ReadonlyArray<Record<string, unknown>>, error: AnyClientError): void;
}

/** Attempts per control request before the connection is given up as broken. */
const MAX_ATTEMPTS = 3;

/**
 * Sends control ops (subscribe, unsubscribe, close) for the open connection. Ops issued in
 * the same tick go as one request (React mounting twenty components subscribes twenty times
 * in one task), and ops queued for a connection that has since been replaced are dropped: a
 * new connection resubscribes everything anyway.
 */
export class ControlChannel {
  readonly #runtime: ClientRuntime;
  readonly #target: () => ControlTarget | null;
  readonly #events: ControlChannelEvents;
  readonly #deserialize: () => (value: unknown) => unknown;
  #queue: Array<{ connectionId: string; op: Record<string, unknown> }> = [];
  #scheduled = false;

  constructor(
    runtime: ClientRuntime,
    target: () => ControlTarget | null,
    events: ControlChannelEvents,
    deserialize: () => (value: unknown) => unknown,
  ) {
    this.#runtime = runtime;
    this.#target = target;
    this.#events = events;
    this.#deserialize = deserialize;
  }

  send(connectionId: string, op: Record<string, unknown>): void {
    this.#queue.push({ connectionId, op });
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  /** Sends one request right away, outside the queue, ignoring the answer (closing a connection we leave). */
  sendNow(target: ControlTarget, ops: Array<Record<string, unknown>>): void {
    void this.#post(target, ops).catch(() => undefined);
  }

  async #flush(): Promise<void> {
    const target = this.#target();
    const queued = this.#queue;
    this.#queue = [];
    if (!target) return;
    const ops = queued.filter((entry) => entry.connectionId === target.connectionId).map((entry) => entry.op);
    if (ops.length === 0) return;
    for (let attempt = 1; ; attempt++) {
      let error: AnyClientError;
      try {
        const response = await this.#post(target, ops);
        if (response.ok) return;
        error = await errorFromResponse(response, this.#deserialize());
      } catch (cause) {
        error = toClientError(cause);
      }
      const code = errorCode(error);
      if (code === 'NOT_FOUND' || code === 'FORBIDDEN') {
        this.#events.lost(target.connectionId);
        return;
      }
      if (code === 'BAD_REQUEST' || code === 'PARSE_ERROR' || code === 'PAYLOAD_TOO_LARGE') {
        this.#events.rejected(ops, error);
        return;
      }
      // Network trouble, 429, 5xx: try again, then give the connection up (a new one
      // resubscribes everything).
      if (attempt >= MAX_ATTEMPTS) {
        this.#events.lost(target.connectionId);
        return;
      }
      const retry = this.#runtime.options.retry ?? {};
      await this.#runtime.sleep(
        backoffDelay(attempt, retry.minDelayMs ?? RETRY_DEFAULTS.minDelayMs, retry.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs),
        new AbortController().signal,
      );
      const current = this.#target();
      if (current?.connectionId !== target.connectionId) return;
    }
  }

  async #post(target: ControlTarget, ops: Array<Record<string, unknown>>) {
    const headers = headersToRecord(await resolve(this.#runtime.options.headers));
    return this.#runtime.fetch(target.url, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/json',
        'trpc-sse-connection': target.connectionId,
        'trpc-sse-secret': target.secret,
      },
      body: JSON.stringify({ ops }),
      signal: new AbortController().signal,
    });
  }
}
