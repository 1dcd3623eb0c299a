import type { Unsubscribable } from '@trpc/server/observable';
import {
  MUX_EVENT,
  type CheckpointFrameData,
  type ControlOp,
  type FailedFrameData,
  type ResetFrameData,
  type SubscribeOpWire,
  type SubscriptionFrameData,
  type ValueFrameData,
} from '../../protocol.js';
import { clientErrorWithCode, type AnyClientError } from '../errors.js';
import type { ClientRuntime } from '../runtime.js';
import type { SubscriptionRequest } from '../transport.js';
import type { ControlTarget } from './controlChannel.js';
import { MuxClientSubscription } from './muxSubscription.js';

/** How the table reaches the server: the open connection, and its control requests. */
export interface TableLink {
  /** The open connection, or `null` while none is. */
  target(): ControlTarget | null;
  /** Queues a control op for `connectionId` (`json`: its JSON, when already made). */
  send(connectionId: string, op: ControlOp, json?: string): void;
  /** The last subscription left the table (lazy mode may let the connection go). */
  emptied(): void;
}

/** A subscription's op, ready to send: `null` when its input could not be serialized (it has failed). */
type ReadyOp = { op: SubscribeOpWire; json: string } | null;

/**
 * The subscriptions of a multiplexed client and what the server knows of each (the role
 * tRPC's `RequestManager` plays for `wsLink`): which connection each `subscribe` went out on,
 * which started, which ended while no stream was open (orphans, unsubscribed if their
 * connection resumes), and each one's own retry after a failure. Frames of the stream reach
 * their subscription through {@link deliver}.
 */
export class SubscriptionTable {
  readonly #runtime: ClientRuntime;
  readonly #link: TableLink;
  readonly #byId = new Map<string, MuxClientSubscription>();
  #nextId = 1;
  /**
   * Subscriptions ended while no stream was open, by the connection they run on: if that
   * connection resumes, they are unsubscribed there (else they would run on unseen).
   */
  #orphans: Array<{ id: string; connectionId: string }> = [];
  #deserialize: (value: unknown) => unknown = (value) => value;

  constructor(runtime: ClientRuntime, link: TableLink) {
    this.#runtime = runtime;
    this.#link = link;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** The transformer's `deserialize` for error bodies (the last subscription's: one router per client). */
  get deserialize(): (value: unknown) => unknown {
    return this.#deserialize;
  }

  /** Adds a subscription and sends its `subscribe` if a connection is open. */
  add(request: SubscriptionRequest, connectionOpen: boolean): MuxClientSubscription {
    const { transformer } = request;
    this.#deserialize = (value) => transformer.output.deserialize(value);
    const subscription = new MuxClientSubscription(String(this.#nextId++), request);
    this.#byId.set(subscription.id, subscription);
    // Its state is the connection's (as wsLink reports it): an open connection needs no
    // connecting, only the `subscribe` below.
    if (connectionOpen) subscription.pending();
    else subscription.connecting(null);
    this.#sendSubscribe(subscription);
    return subscription;
  }

  /** The app unsubscribed: stop it on its connection (now, or when that connection resumes). */
  remove(subscription: MuxClientSubscription): void {
    if (subscription.ended) return;
    subscription.cancel();
    this.#forget(subscription);
    const target = this.#link.target();
    if (target?.connectionId === subscription.sentOn) {
      this.#link.send(target.connectionId, { op: 'unsubscribe', id: subscription.id });
    }
  }

  /**
   * The `subscribe` ops a new stream's request carries (as many as fit `maxChars`), so their
   * first events need no control request first. `onlyUnsent`: in a drain handover, only those
   * not running on the old connection.
   */
  openingOps(maxChars: number, onlyUnsent: boolean): { ops: SubscribeOpWire[]; ids: Set<string> } {
    const ops: SubscribeOpWire[] = [];
    const ids = new Set<string>();
    let size = 2;
    for (const subscription of this.#byId.values()) {
      if (subscription.waitingToRetry || (onlyUnsent && subscription.sentOn !== null)) continue;
      const ready = this.#ready(subscription);
      if (!ready) continue;
      const opSize = ready.json.length + 1;
      if (size + opSize > maxChars) break;
      ops.push(ready.op);
      ids.add(subscription.id);
      size += opSize;
    }
    return { ops, ids };
  }

  /**
   * A connection opened. `resumed`: the server kept it, with what ran on it; else it is new,
   * and `opening` (ids the stream's request carried) and `subscribed` (those the server
   * started) say which need no control request. Everything else is (re)sent.
   */
  connectionOpened(
    connectionId: string,
    resumed: boolean,
    opening: ReadonlySet<string>,
    subscribed: ReadonlySet<string>,
  ): void {
    const orphans = this.#orphans;
    this.#orphans = [];
    if (resumed) {
      for (const orphan of orphans) {
        if (orphan.connectionId === connectionId) this.#link.send(connectionId, { op: 'unsubscribe', id: orphan.id });
      }
      for (const subscription of this.#byId.values()) {
        if (subscription.sentOn === connectionId && subscription.started) subscription.resumed();
        // Sent but never confirmed (the request may have been lost with the stream): again;
        // the server ignores a duplicate.
        else if (subscription.sentOn === connectionId) this.#sendSubscribe(subscription);
        // Made while the stream was down (and not waiting out a retry backoff): send it now.
        else if (subscription.sentOn === null && !subscription.waitingToRetry) this.#sendSubscribe(subscription);
      }
      return;
    }
    for (const id of opening) {
      // Started by the opening request but ended since: stop it there.
      if (subscribed.has(id) && !this.#byId.has(id)) this.#link.send(connectionId, { op: 'unsubscribe', id });
    }
    for (const subscription of this.#byId.values()) {
      if (opening.has(subscription.id) && subscribed.has(subscription.id)) subscription.sent(connectionId);
      else this.#sendSubscribe(subscription);
    }
  }

  /** A drain handover: every subscription is sent again on the new connection, quietly if it was running. */
  moveAll(): void {
    for (const subscription of this.#byId.values()) subscription.move();
  }

  /** Sends what waited for a connection (made while none was open, and not waiting out a retry). */
  sendWaiting(): void {
    for (const subscription of this.#byId.values()) {
      if (subscription.sentOn === null && !subscription.waitingToRetry) this.#sendSubscribe(subscription);
    }
  }

  /**
   * The connection failed and will be tried again (attempt `attempt`): every subscription is
   * `connecting`, except one whose own policy (`context.retry`) forbids a retry: it fails now
   * rather than be started again on the next connection.
   */
  connectionRetrying(error: AnyClientError, attempt: number): void {
    for (const subscription of [...this.#byId.values()]) {
      if (this.#runtime.operationForbidsRetry({ error, attempt, op: subscription.op, source: 'transport' })) {
        this.#giveUp(subscription, error);
      } else {
        subscription.connecting(error);
      }
    }
  }

  /** The connection failed for good: every subscription fails with `error`. */
  failAll(error: AnyClientError): void {
    for (const subscription of this.#byId.values()) subscription.fail(error);
    this.#byId.clear();
  }

  /** The client closed: every subscription completes. */
  completeAll(): void {
    for (const subscription of this.#byId.values()) subscription.complete();
    this.#byId.clear();
  }

  /** The client fell back to distinct mode: `carry` takes every subscription on from here. */
  handOverAll(carry: (request: SubscriptionRequest) => Unsubscribable): void {
    const subscriptions = [...this.#byId.values()];
    this.#byId.clear();
    for (const subscription of subscriptions) subscription.handOver(carry);
  }

  /** A frame of the stream about one subscription, from connection `connectionId`. */
  deliver(event: string, data: string, connectionId: string): void {
    switch (event) {
      case 'message': {
        const frame = JSON.parse(data) as ValueFrameData;
        this.#byId.get(frame.s)?.onData(frame.i, frame.d, data);
        return;
      }
      case MUX_EVENT.started:
        this.#byId.get((JSON.parse(data) as SubscriptionFrameData).s)?.onStarted();
        return;
      case MUX_EVENT.checkpoint: {
        const { s, i } = JSON.parse(data) as CheckpointFrameData;
        this.#byId.get(s)?.continueFrom(i);
        return;
      }
      case MUX_EVENT.reset: {
        const { s, r, i } = JSON.parse(data) as ResetFrameData;
        const subscription = this.#byId.get(s);
        if (!subscription) return;
        subscription.continueFrom(i ?? undefined);
        this.#runtime.notifyReset({ op: subscription.op, reason: r, lastEventId: i });
        return;
      }
      case MUX_EVENT.return: {
        const subscription = this.#byId.get((JSON.parse(data) as SubscriptionFrameData).s);
        if (!subscription) return;
        this.#forget(subscription);
        subscription.complete();
        return;
      }
      case MUX_EVENT.failed: {
        const { s, e } = JSON.parse(data) as FailedFrameData;
        const subscription = this.#byId.get(s);
        if (subscription?.sentOn === connectionId) this.#failed(subscription, subscription.errorFrom(e), 'procedure');
        return;
      }
      default:
      // Unknown events are ignored: newer servers may send more.
    }
  }

  /** The server refused these ops for what they are (400, 413): their subscriptions fail (and may retry). */
  rejected(ops: readonly ControlOp[], error: AnyClientError): void {
    for (const op of ops) {
      const subscription = op.op === 'subscribe' ? this.#byId.get(op.id) : undefined;
      if (subscription) this.#failed(subscription, error, 'transport');
    }
  }

  /** Ops that never reached the server: resend subscribes, and unsubscribe orphans, when a connection opens. */
  dropped(ops: readonly ControlOp[], connectionId: string): void {
    for (const op of ops) {
      if (op.op === 'subscribe') this.#byId.get(op.id)?.notSent(connectionId);
      else if (op.op === 'unsubscribe') this.#orphans.push({ id: op.id, connectionId });
    }
  }

  #sendSubscribe(subscription: MuxClientSubscription): void {
    const target = this.#link.target();
    if (!target || subscription.ended) return;
    const ready = this.#ready(subscription);
    if (!ready) return;
    subscription.sent(target.connectionId);
    this.#link.send(target.connectionId, ready.op, ready.json);
  }

  /**
   * The subscription's `subscribe` op and its JSON, or `null` when its input cannot be
   * serialized (a cycle, a BigInt without a transformer, a throwing transformer): then that
   * subscription fails alone, with a typed error, instead of breaking the requests it rides on.
   */
  #ready(subscription: MuxClientSubscription): ReadyOp {
    try {
      const op = subscription.subscribeOp();
      return { op, json: JSON.stringify(op) };
    } catch (cause) {
      const error = clientErrorWithCode('BAD_REQUEST', 'The subscription input could not be serialized', 400, cause);
      this.#runtime.notifyError(error);
      this.#giveUp(subscription, error);
      return null;
    }
  }

  /** A subscription failed on its connection: retried alone, after its own backoff, if the policy says so. */
  #failed(subscription: MuxClientSubscription, error: AnyClientError, source: 'procedure' | 'transport'): void {
    const attempt = subscription.failedAttempt();
    this.#runtime.notifyError(error);
    if (!this.#runtime.shouldRetry({ error, attempt, op: subscription.op, source })) {
      this.#giveUp(subscription, error);
      return;
    }
    subscription.connecting(error);
    subscription.retryAfter(this.#runtime.backoff(attempt), () => this.#sendSubscribe(subscription));
  }

  /** Fails a subscription for good; if a connection that may resume still runs it, it is stopped there then. */
  #giveUp(subscription: MuxClientSubscription, error: AnyClientError): void {
    subscription.fail(error);
    this.#forget(subscription);
  }

  /** Takes an ended subscription out; one its connection may still run becomes an orphan. */
  #forget(subscription: MuxClientSubscription): void {
    if (!this.#byId.delete(subscription.id)) return;
    const target = this.#link.target();
    const stopNow = target !== null && subscription.sentOn === target.connectionId;
    if (subscription.sentOn !== null && !stopNow)
      this.#orphans.push({ id: subscription.id, connectionId: subscription.sentOn });
    if (this.#byId.size === 0) this.#link.emptied();
  }
}
