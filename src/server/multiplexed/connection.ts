import { TRPCError } from '@trpc/server';
import type { HeartbeatTarget } from '../heartbeat.js';
import type { ValidSubscribeOp } from './ops.js';
import type { RequestHooks } from '../options.js';
import type { SSEResponseSink } from '../request.js';
import type { ResolvedServerOptions } from '../resolveOptions.js';
import { randomToken } from '../../shared/randomToken.js';
import type { ValueSerializer } from '../serialize.js';
import { connectionFrame, reconnectFrame } from './frames.js';
import { messageFrame } from '../valueFrame.js';
import { ReplayBuffer } from './replayBuffer.js';
import { MuxSubscription, writeFailure } from './subscription.js';
import { PING_FRAME } from '../dialect.js';
import type { StreamCloseReason } from '../observability/channels.js';
import type { ServerMonitor } from '../observability/monitor.js';

/** A stream as its connection holds it: the server notes on it why it ends it. */
export interface ConnectionStream extends SSEResponseSink {
  closeReason: StreamCloseReason | undefined;
  /**
   * Writes a value frame made of `key` and `body` (valueFrame.ts), which the server's figures
   * size by their parts (see `ServerMonitor.wroteMessage`).
   */
  writeMessage(frame: string, key: string, body: string): boolean;
}

/**
 * Ends a stream the server is done with. One with more than `maxBufferedBytes` still queued
 * (its peer stopped reading) is cut off instead: ended behind its queue, it would keep that
 * memory, no longer counted against `maxStreams`, for as long as the peer stays connected.
 */
export function endStream(sink: ConnectionStream, maxBufferedBytes: number, reason: StreamCloseReason): void {
  sink.closeReason ??= reason;
  if (sink.bufferedBytes > maxBufferedBytes && sink.destroy) sink.destroy();
  else sink.end();
}

/** What a connection needs from the server that owns it. */
export interface ConnectionOwner {
  readonly options: ResolvedServerOptions;
  readonly monitor: ServerMonitor;
  /** A new connection's id (≥ 128 random bits). */
  newConnectionId(): string;
  /** The connection ended for good. */
  closed(connection: MuxConnection): void;
  /** A stream attached / detached (for the heartbeat and the stream budget). */
  attached(connection: MuxConnection): void;
  detached(connection: MuxConnection): void;
}

/**
 * A multiplexed connection: one client, its context, its subscriptions, and the stream
 * currently carrying them. The connection outlives a broken stream by `graceMs`, so a client
 * that comes back resumes it (frames replayed from {@link ReplayBuffer}) without any
 * procedure running again.
 */
export class MuxConnection implements HeartbeatTarget {
  readonly id: string;
  readonly secret = randomToken(16);
  readonly options: ResolvedServerOptions;
  readonly ctx: unknown;
  readonly hooks: RequestHooks;
  readonly serializer: ValueSerializer;
  readonly monitor: ServerMonitor;
  wroteSinceTick = true;
  readonly #owner: ConnectionOwner;
  readonly #subscriptions = new Map<string, MuxSubscription>();
  readonly #replay: ReplayBuffer;
  #sink: ConnectionStream | null = null;
  #seq = 0;
  #closed = false;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** Writers waiting for room while no stream is attached. */
  #waiters: Array<() => void> = [];
  pendingControlRequests = 0;

  constructor(owner: ConnectionOwner, ctx: unknown, hooks: RequestHooks, serializer: ValueSerializer) {
    this.#owner = owner;
    this.id = owner.newConnectionId();
    this.options = owner.options;
    this.ctx = ctx;
    this.hooks = hooks;
    this.serializer = serializer;
    this.monitor = owner.monitor;
    this.#replay = new ReplayBuffer(owner.options.replayBufferBytes, owner.options.graceMs);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  /** Whether a stream that received every frame up to `lastSeq` can resume here. */
  canResume(lastSeq: number): boolean {
    return this.#replay.holdsAfter(lastSeq);
  }

  /**
   * Puts a stream on this connection: a new one (`lastSeq` null) or a resumed one, which
   * first gets every frame after `lastSeq` (check {@link canResume} first). `opening`: the
   * subscriptions the stream's request carried, which the caller starts right after.
   * Returns how many frames it replayed.
   */
  attach(sink: ConnectionStream, lastSeq: number | null, opening: readonly ValidSubscribeOp[] = []): number {
    const backlog = (lastSeq === null ? [] : this.#replay.after(lastSeq)) ?? [];
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    // A client reconnecting before the server saw its old stream die: the new one wins.
    const previous = this.#sink;
    this.#sink = null;
    if (previous) endStream(previous, this.options.maxBufferedBytes, 'replaced');
    sink.write(
      connectionFrame({
        protocol: 1,
        connectionId: this.id,
        secret: this.secret,
        resumed: lastSeq !== null,
        reconnectAfterInactivityMs: this.options.reconnectAfterInactivityMs,
        maxSubscriptions: this.options.maxSubscriptionsPerConnection,
        maxControlBytes: this.options.maxControlBodyBytes,
        maxPendingControlRequests: this.options.maxPendingControlRequests,
        ...(opening.length > 0 ? { subscribed: opening.map((op) => op.id) } : {}),
      }),
    );
    for (const frame of backlog) sink.write(frame);
    this.#sink = sink;
    this.wroteSinceTick = true;
    if (!previous) this.#owner.attached(this);
    this.#wake();
    return backlog.length;
  }

  /**
   * The stream `sink` went away (client left, network). Keeps the connection for `graceMs`,
   * unless a resume would bring nothing back: no subscription runs on it and no frame waits
   * in the replay buffer (a client whose control requests never reached this process, or
   * one that left with nothing subscribed), so it ends now instead of holding memory and a
   * place under `maxStreams`; a client coming back gets a new connection and loses nothing.
   */
  detach(sink: SSEResponseSink): void {
    if (this.#sink !== sink || this.#closed) return;
    this.#sink = null;
    this.#owner.detached(this);
    this.#wake();
    if (this.options.graceMs <= 0 || (this.#subscriptions.size === 0 && this.#replay.bytes === 0)) {
      this.close();
      return;
    }
    this.#graceTimer = setTimeout(() => this.close(), this.options.graceMs);
  }

  /** Ends the current stream without closing the connection (the client resumes). */
  dropStream(reason: StreamCloseReason): void {
    const sink = this.#sink;
    if (!sink) return;
    this.detach(sink);
    endStream(sink, this.options.maxBufferedBytes, reason);
  }

  /** Writes one frame with the next sequence number; false when the reader is behind. */
  writeFrame(build: (seq: number) => string): boolean {
    if (this.#closed) return true;
    const seq = ++this.#seq;
    const frame = build(seq);
    this.#replay.pushFrame(seq, frame, Date.now());
    return this.#send(frame);
  }

  /**
   * Writes a value frame (the hot path of a fan-out): `key` and `body` as in valueFrame.ts, both
   * made elsewhere once (per subscription, per log event); the replay buffer keeps them by
   * reference.
   */
  writeMessage(key: string, body: string): boolean {
    if (this.#closed) return true;
    const seq = ++this.#seq;
    this.#replay.pushMessage(seq, key, body, Date.now());
    this.wroteSinceTick = true;
    if (!this.#sink) return false;
    return this.#sink.writeMessage(messageFrame(seq, key, body), key, body);
  }

  #send(frame: string): boolean {
    this.wroteSinceTick = true;
    if (!this.#sink) return false;
    return this.#sink.write(frame);
  }

  /**
   * Resolves when a writer may go on: the stream has room, or the stream was replaced,
   * dropped or came back, or the connection closed. Waiting on the sink alone would strand
   * writers on a half-open socket that a resumed stream has replaced.
   */
  drained(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    // Writers ask only after a write said the reader is behind; the first of them marks a pause.
    if (this.#sink && this.#waiters.length === 0)
      this.monitor.paused('multiplexed', null, this.id, this.#sink.bufferedBytes);
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      void this.#sink?.drained().then(() => this.#wake());
    });
  }

  /** Whether an observable must stop pushing: too much queued on the socket, or in the replay buffer while detached. */
  overBudget(): boolean {
    if (this.#sink) return this.#sink.bufferedBytes > this.options.maxBufferedBytes;
    return this.#replay.bytes >= this.options.replayBufferBytes;
  }

  ping(): void {
    this.#sink?.write(PING_FRAME);
    this.#replay.trim(Date.now());
  }

  /** Asks the client to move to a new connection after `afterMs` (a drain). */
  requestReconnect(afterMs: number): void {
    this.#sink?.write(reconnectFrame(afterMs));
  }

  subscribe(op: ValidSubscribeOp): void {
    const existing = this.#subscriptions.get(op.id);
    if (op.refusal) {
      // This op alone fails. A subscription already under its id ends too: the client will
      // take the `failed` frame as that subscription's.
      existing?.stop();
      this.#rejectSubscribe(op, op.refusal);
      return;
    }
    if (existing) {
      // The same subscribe again (a retried control request) is harmless.
      if (existing.path === op.path) return;
      this.#rejectSubscribe(
        op,
        new TRPCError({ code: 'BAD_REQUEST', message: `Subscription id "${op.id}" is already in use` }),
      );
      return;
    }
    if (this.#subscriptions.size >= this.options.maxSubscriptionsPerConnection) {
      this.#rejectSubscribe(
        op,
        new TRPCError({
          code: 'TOO_MANY_REQUESTS',
          message: `A connection may hold at most ${this.options.maxSubscriptionsPerConnection} subscriptions`,
        }),
      );
      return;
    }
    const subscription = new MuxSubscription(this, op.id, op.path);
    this.#subscriptions.set(op.id, subscription);
    void subscription.start(op.input, op.lastEventId);
  }

  unsubscribe(id: string): void {
    this.#subscriptions.get(id)?.stop();
  }

  /** Called by a subscription that ended. */
  forget(subscription: MuxSubscription): void {
    if (this.#subscriptions.get(subscription.id) === subscription) this.#subscriptions.delete(subscription.id);
  }

  /** Ends the connection: every subscription stops, the stream ends. */
  close(reason: StreamCloseReason = 'ended'): void {
    if (this.#closed) return;
    for (const subscription of [...this.#subscriptions.values()]) subscription.stop();
    this.#closed = true;
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    const sink = this.#sink;
    this.#sink = null;
    if (sink) this.#owner.detached(this);
    if (sink) endStream(sink, this.options.maxBufferedBytes, reason);
    this.#replay.clear();
    this.#wake();
    this.#owner.closed(this);
  }

  #rejectSubscribe(op: ValidSubscribeOp, error: TRPCError): void {
    this.monitor.subscriptionStartFailed();
    writeFailure(this, op.id, { path: op.path, type: 'subscription', input: op.input, ctx: this.ctx }, error);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
