import { MUX_HEADER, type ControlOp } from '../../protocol.js';
import { errorCode, toClientError, type AnyClientError } from '../errors.js';
import { errorFromResponse } from '../responseError.js';
import type { ClientRuntime } from '../runtime.js';

/** Where control requests go: the open connection. */
export interface ControlTarget {
  url: string;
  connectionId: string;
  secret: string;
  /** The server's body limit (from the `connection` event); batches are split under it. */
  maxBodyBytes: number;
}

/** An op waiting to be sent, with its JSON (made once). */
interface QueuedOp {
  connectionId: string;
  op: ControlOp;
  json: string;
}

export interface ControlChannelEvents {
  /** The server no longer knows the connection (404/403), or control requests keep failing. */
  lost(connectionId: string): void;
  /** The server refused these ops for what they are (400, 413): their subscriptions fail. */
  rejected(ops: readonly ControlOp[], error: AnyClientError): void;
  /**
   * These ops were not delivered (no connection open when their turn came, or the connection
   * changed): the transport reconciles them when a connection opens.
   */
  dropped(ops: readonly ControlOp[], connectionId: string): void;
  /** The transformer's `deserialize`, for error bodies. */
  deserialize(): (value: unknown) => unknown;
}

/** Attempts per control request before the connection is given up as broken. */
const MAX_ATTEMPTS = 3;

/**
 * Sends control ops (subscribe, unsubscribe, close) for the open connection.
 *
 * - Ops issued in the same tick go as one request (React mounting twenty components
 *   subscribes twenty times in one task), split under the server's body limit.
 * - One request at a time, in order: an `unsubscribe` can never overtake the `subscribe` it
 *   undoes (a retried subscribe arriving last would start a procedure nobody stops).
 * - Ops that could not be delivered are handed back (`dropped`), never silently lost.
 */
export class ControlChannel {
  readonly #runtime: ClientRuntime;
  readonly #target: () => ControlTarget | null;
  readonly #events: ControlChannelEvents;
  readonly #abort = new AbortController();
  #queue: QueuedOp[] = [];
  #scheduled = false;
  #chain: Promise<void> = Promise.resolve();

  constructor(runtime: ClientRuntime, target: () => ControlTarget | null, events: ControlChannelEvents) {
    this.#runtime = runtime;
    this.#target = target;
    this.#events = events;
  }

  /** Queues `op` for `connectionId`; `json` is its JSON when the caller has it already. */
  send(connectionId: string, op: ControlOp, json: string = JSON.stringify(op)): void {
    this.#queue.push({ connectionId, op, json });
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      const queued = this.#queue;
      this.#queue = [];
      this.#chain = this.#chain.then(() => this.#deliver(queued));
    });
  }

  /** Sends one request right away, outside the queue, ignoring the answer (closing a connection we leave). */
  sendNow(target: ControlTarget, ops: ControlOp[]): void {
    // Not tied to the channel's abort: a client closing sends its `close` this way, and it
    // must go out after the channel has stopped.
    void this.#post(
      target,
      ops.map((op) => JSON.stringify(op)),
      new AbortController().signal,
    ).catch(() => undefined);
  }

  /** Stops everything in flight (the client is closing). */
  close(): void {
    this.#abort.abort();
  }

  async #deliver(queued: QueuedOp[]): Promise<void> {
    const target = this.#target();
    const byConnection = new Map<string, QueuedOp[]>();
    for (const entry of queued) {
      const ops = byConnection.get(entry.connectionId) ?? [];
      ops.push(entry);
      byConnection.set(entry.connectionId, ops);
    }
    for (const [connectionId, ops] of byConnection) {
      if (target?.connectionId !== connectionId) {
        this.#events.dropped(
          ops.map((entry) => entry.op),
          connectionId,
        );
        continue;
      }
      for (const batch of splitUnder(ops, target.maxBodyBytes)) {
        if (this.#abort.signal.aborted) return;
        if (!(await this.#deliverBatch(target, batch))) return;
      }
    }
  }

  /** One request with retries; false when the connection is gone (the rest is moot). */
  async #deliverBatch(target: ControlTarget, batch: QueuedOp[]): Promise<boolean> {
    const ops = batch.map((entry) => entry.op);
    const jsons = batch.map((entry) => entry.json);
    for (let attempt = 1; ; attempt++) {
      let error: AnyClientError;
      try {
        const response = await this.#post(target, jsons, this.#abort.signal);
        if (response.ok) return true;
        error = await errorFromResponse(response, this.#events.deserialize());
      } catch (cause) {
        if (this.#abort.signal.aborted) return false;
        error = toClientError(cause);
      }
      const code = errorCode(error);
      if (code === 'NOT_FOUND' || code === 'FORBIDDEN') {
        this.#events.lost(target.connectionId);
        return false;
      }
      if (code === 'BAD_REQUEST' || code === 'PARSE_ERROR' || code === 'PAYLOAD_TOO_LARGE') {
        this.#events.rejected(ops, error);
        return true;
      }
      // Network trouble, 429, 5xx: try again, then give the connection up (a new one
      // resubscribes everything).
      if (attempt >= MAX_ATTEMPTS) {
        this.#events.lost(target.connectionId);
        return false;
      }
      await this.#runtime.sleep(this.#runtime.backoff(attempt), this.#abort.signal);
      if (this.#target()?.connectionId !== target.connectionId) {
        this.#events.dropped(ops, target.connectionId);
        return false;
      }
    }
  }

  /** `ops`: the JSON of each op, joined into the body as they are. */
  async #post(target: ControlTarget, ops: string[], signal: AbortSignal) {
    // `null` when aborted meanwhile: the fetch below then rejects as aborted.
    const headers = (await this.#runtime.requestHeaders(signal)) ?? {};
    return this.#runtime.fetch(target.url, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/json',
        [MUX_HEADER.connection]: target.connectionId,
        [MUX_HEADER.secret]: target.secret,
      },
      body: `{"ops":[${ops.join(',')}]}`,
      signal,
    });
  }
}

/** Splits ops into batches whose request body stays under `maxBytes` (one op per batch at least). */
function splitUnder(ops: QueuedOp[], maxBytes: number): QueuedOp[][] {
  // Characters approximate bytes; the margin covers multi-byte text and the envelope.
  const budget = Math.max(256, Math.floor(maxBytes * 0.8));
  const batches: QueuedOp[][] = [];
  let current: QueuedOp[] = [];
  let size = 16;
  for (const op of ops) {
    const opSize = op.json.length + 1;
    if (current.length > 0 && size + opSize > budget) {
      batches.push(current);
      current = [];
      size = 16;
    }
    current.push(op);
    size += opSize;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
