import { MISDIRECTED_STATUS, MUX_HEADER, type ControlOp } from '../../protocol.js';
import { clientErrorWithCode, errorCode, toClientError, type AnyClientError } from '../errors.js';
import { errorFromResponse } from '../responseError.js';
import type { ClientRuntime } from '../runtime.js';

/** Where control requests go: the open connection. */
export interface ControlTarget {
  url: string;
  connectionId: string;
  secret: string;
  /** The server's body limit (from the `connection` event); batches are split under it. */
  maxBodyBytes: number;
  /** Control requests the server takes in flight at once (from the `connection` event), if it said. */
  maxInFlight?: number;
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
  /**
   * A control request reached a server process other than the one holding the connection,
   * and nothing there can hand it over (421): control requests cannot be relied on to reach
   * the stream's process. `reason` says so, with the server's answer as its `cause`.
   */
  misdirected(connectionId: string, reason: AnyClientError): void;
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

/** The `close` op's JSON. */
const CLOSE_OP = JSON.stringify({ op: 'close' } satisfies ControlOp);

/** Attempts per control request before the connection is given up as broken. */
const MAX_ATTEMPTS = 3;

/**
 * Attempts of a connection's last `close` that reached the wrong process (421): each goes
 * out on a new TCP connection (the server closed the one it answered on; `fetch` itself
 * already tries a 421 once more on a new one), which a balancer may send to the owner. Best
 * effort: without it the owner ends the connection `graceMs` after its stream.
 */
const MISDIRECTED_CLOSE_ATTEMPTS = 4;

/** The reason a client gives for moving to distinct mode after a 421. */
function misdirectedReason(answer: AnyClientError): AnyClientError {
  return clientErrorWithCode(
    'NOT_FOUND',
    'Control requests reach server processes that do not hold the stream (a balancer without sticky sessions, ' +
      'and no connection directory on the server): using one stream per subscription (distinct mode)',
    MISDIRECTED_STATUS,
    answer,
  );
}

/**
 * Requests in flight at once for one connection when the server does not say how many it
 * takes (`maxPendingControlRequests` in the `connection` event); under its default (8).
 */
const DEFAULT_MAX_IN_FLIGHT = 4;

/** The most requests in flight at once, whatever the server takes. */
const MAX_IN_FLIGHT = 8;

/**
 * What orders an op: ops with the same key reach the server in the order they were issued
 * (a subscription's `subscribe` before its `unsubscribe`). `close` (null) orders against
 * every op: it waits for what was issued before it, and what comes after waits for it.
 */
function orderKey(op: ControlOp): string | null {
  return op.op === 'close' ? null : op.id;
}

/**
 * Sends control ops (subscribe, unsubscribe, close) for the open connection.
 *
 * - Ops issued in the same tick go as one request (React mounting twenty components
 *   subscribes twenty times in one task), split under the server's body limit.
 * - Ordered per subscription, parallel across them: an op waits while an earlier op for the
 *   same subscription is unsent or in flight (retries included), so an `unsubscribe` can
 *   never overtake the `subscribe` it undoes (a retried subscribe arriving last would start a
 *   procedure nobody stops); a subscribe never waits behind another subscription's
 *   unsubscribe. At most the server's `maxPendingControlRequests` requests are in flight.
 * - Ops that could not be delivered are handed back (`dropped`), never silently lost.
 */
export class ControlChannel {
  readonly #runtime: ClientRuntime;
  readonly #target: () => ControlTarget | null;
  readonly #events: ControlChannelEvents;
  readonly #abort = new AbortController();
  /** Issued and not yet sent, in the order they were issued. */
  #waiting: QueuedOp[] = [];
  /** Subscription ids with an op in flight (a request, its retries included), by count. */
  readonly #busy = new Map<string, number>();
  #inFlight = 0;
  /** A request carrying `close` is in flight: nothing else goes until it is done. */
  #closeInFlight = false;
  /**
   * The connection the transport last gave up for good (lost, misdirected): ops still waiting
   * for it are handed back. Only the transport decides it (see {@link abandon}): a failed
   * request alone does not, since a resume keeps the connection's id.
   */
  #givenUp: string | null = null;
  #scheduled = false;
  /** Ops wait unsent: the connection may be closed at the end of this task ({@link hold}). */
  #holding = false;

  constructor(runtime: ClientRuntime, target: () => ControlTarget | null, events: ControlChannelEvents) {
    this.#runtime = runtime;
    this.#target = target;
    this.#events = events;
  }

  /** Queues `op` for `connectionId`; `json` is its JSON when the caller has it already. */
  send(connectionId: string, op: ControlOp, json: string = JSON.stringify(op)): void {
    this.#waiting.push({ connectionId, op, json });
    this.#schedule();
  }

  /** Sends what may go, once the current task has issued all its ops (one request for them). */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#holding) return;
    while (!this.#abort.signal.aborted && this.#waiting.length > 0) {
      const target = this.#target();
      const cap = Math.min(MAX_IN_FLIGHT, Math.max(1, target?.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT));
      if (this.#inFlight >= cap) return;
      const batch = this.#takeBatch(target);
      if (batch.length === 0) return;
      void this.#dispatch(target!, batch);
    }
  }

  /**
   * Takes, in issue order, the waiting ops that may go now for the open connection, as many
   * as fit one request; hands back those for a connection that is not open.
   */
  #takeBatch(target: ControlTarget | null): QueuedOp[] {
    const taken: QueuedOp[] = [];
    const left: QueuedOp[] = [];
    const dropped = new Map<string, ControlOp[]>();
    /** Subscriptions with an op left waiting in this pass: their later ops wait too. */
    const blocked = new Set<string>();
    /** A `close` was taken or left: everything after it waits. */
    let barrier = this.#closeInFlight;
    // Characters approximate bytes; the margin covers multi-byte text and the envelope.
    const budget = Math.max(256, Math.floor((target?.maxBodyBytes ?? 0) * 0.8));
    let size = 16;
    for (const entry of this.#waiting) {
      if (target?.connectionId !== entry.connectionId || entry.connectionId === this.#givenUp) {
        const ops = dropped.get(entry.connectionId) ?? [];
        ops.push(entry.op);
        dropped.set(entry.connectionId, ops);
        continue;
      }
      const key = orderKey(entry.op);
      const free =
        !barrier &&
        (key === null ? this.#inFlight === 0 && left.length === 0 : !blocked.has(key) && !this.#busy.has(key));
      const fits = taken.length === 0 || size + entry.json.length + 1 <= budget;
      if (free && fits) {
        taken.push(entry);
        size += entry.json.length + 1;
      } else {
        left.push(entry);
        if (key !== null) blocked.add(key);
      }
      if (key === null) barrier = true;
    }
    this.#waiting = left;
    for (const [connectionId, ops] of dropped) this.#events.dropped(ops, connectionId);
    return taken;
  }

  /** One request in flight: its subscriptions stay busy until it is done, retries included. */
  async #dispatch(target: ControlTarget, batch: QueuedOp[]): Promise<void> {
    this.#inFlight++;
    for (const entry of batch) {
      const key = orderKey(entry.op);
      if (key === null) this.#closeInFlight = true;
      else this.#busy.set(key, (this.#busy.get(key) ?? 0) + 1);
    }
    try {
      await this.#deliverBatch(target, batch);
    } catch {
      // #deliverBatch reports its failures through the events; nothing else can throw there.
    } finally {
      this.#inFlight--;
      for (const entry of batch) {
        const key = orderKey(entry.op);
        if (key === null) {
          this.#closeInFlight = false;
          continue;
        }
        const count = this.#busy.get(key)! - 1;
        if (count === 0) this.#busy.delete(key);
        else this.#busy.set(key, count);
      }
      this.#pump();
    }
  }

  /**
   * Closes a connection we leave, right away and outside the queue: what still waits for it is
   * moot (`close` ends every subscription on it). A request that reached the wrong process (421)
   * goes again, a few times, and one that failed (network, 429, 5xx) up to
   * {@link MAX_ATTEMPTS} times.
   */
  sendClose(target: ControlTarget): void {
    this.#waiting = this.#waiting.filter((entry) => entry.connectionId !== target.connectionId);
    // Not tied to the channel's abort: a client closing sends its `close` this way, and it
    // must go out after the channel has stopped.
    const jsons = [CLOSE_OP];
    const signal = new AbortController().signal;
    const attempt = async (): Promise<void> => {
      let misdirected = 0;
      let failed = 0;
      for (;;) {
        let status = 0;
        try {
          const response = await this.#post(target, jsons, signal);
          status = response.status;
          // Read to the end, so the connection it came on is free (or closed) before the next.
          await response.text().catch(() => '');
        } catch {
          // Network trouble: as a 5xx.
        }
        if (status === MISDIRECTED_STATUS) {
          if (++misdirected >= MISDIRECTED_CLOSE_ATTEMPTS) return;
          continue;
        }
        // Done, or refused for what it is (the connection is gone already: 404, 403).
        if (status !== 0 && status !== 429 && status < 500) return;
        // Else tried again, as a queued request is: the server would otherwise run the
        // connection's procedures for `graceMs` after its stream.
        if (++failed >= MAX_ATTEMPTS) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#runtime.retryDelay(failed));
          (timer as { unref?: () => void }).unref?.();
        });
      }
    };
    void attempt().catch(() => undefined);
  }

  /**
   * Keeps what is issued from now on unsent until {@link release}: the transport is deciding
   * whether to close the connection (its last subscription ended, and a `close` at the end of
   * this task would end it on the server anyway). So the last unsubscribe does not cost a
   * request of its own before the `close`; if something subscribes instead, it goes with that.
   */
  hold(): void {
    this.#holding = true;
  }

  /** Sends what {@link hold} kept (what the `close` did not make moot). */
  release(): void {
    if (!this.#holding) return;
    this.#holding = false;
    if (this.#waiting.length > 0) this.#schedule();
  }

  /**
   * The transport gave `connectionId` up for good (it opens a new connection, or leaves
   * multiplexed mode): ops still waiting for it are handed back instead of sent.
   */
  abandon(connectionId: string): void {
    this.#givenUp = connectionId;
  }

  /** Stops everything in flight (the client is closing). */
  close(): void {
    this.#abort.abort();
  }

  /** One request with retries; false when the connection is gone (the rest is moot). */
  async #deliverBatch(target: ControlTarget, batch: QueuedOp[]): Promise<boolean> {
    const ops = batch.map((entry) => entry.op);
    const jsons = batch.map((entry) => entry.json);
    for (let attempt = 1; ; attempt++) {
      let error: AnyClientError;
      let status = 0;
      try {
        const response = await this.#post(target, jsons, this.#abort.signal);
        if (response.ok) return true;
        status = response.status;
        error = await errorFromResponse(response, this.#events.deserialize());
      } catch (cause) {
        if (this.#abort.signal.aborted) return false;
        error = toClientError(cause);
      }
      if (status === MISDIRECTED_STATUS) {
        // Not retried: the next request may land there again, and the one after elsewhere.
        // Outside the try: a failure of the handover is not a network error to retry.
        this.#events.misdirected(target.connectionId, misdirectedReason(error));
        return false;
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
