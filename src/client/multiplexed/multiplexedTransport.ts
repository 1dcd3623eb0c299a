import type { Operation } from '@trpc/client';
import type { TRPCCombinedDataTransformer } from '@trpc/server';
import type { Unsubscribable } from '@trpc/server/observable';
import type { SSEMessage } from '../../codec/decoder.js';
import type { EnvelopeObserver } from '../distinctSubscription.js';
import { multiplexedUrl, setupFailure } from '../endpoint.js';
import { clientErrorWithCode, errorCode, type AnyClientError } from '../errors.js';
import {
  LAST_EVENT_ID_HEADER,
  MUX_EVENT,
  MUX_HEADER,
  QUERY_PARAM,
  type CheckpointFrameData,
  type ConnectionHello,
  type ControlOp,
  type FailedFrameData,
  type ReconnectFrameData,
  type ResetFrameData,
  type SubscribeOpWire,
  type SubscriptionFrameData,
  type ValueFrameData,
} from '../../protocol.js';
import { runEventStream, type StreamControl, type StreamFailure } from '../runEventStream.js';
import type { ClientRuntime, RequestInputs } from '../runtime.js';
import { reportUserError } from '../userCode.js';
import type { Transport } from '../transport.js';
import { EVENT_STREAM_ACCEPT } from '../wire.js';
import { ControlChannel, type ControlTarget } from './controlChannel.js';
import { MuxClientSubscription } from './muxSubscription.js';

/**
 * When the connection is held (`createWSClient`'s `lazy`, with the other default): by default
 * the client connects on its first subscription and lets the connection go `closeMs` after
 * the last one ends, so a client created during server rendering, or one nothing subscribes
 * to yet, opens nothing.
 */
export interface LazyOptions {
  /**
   * `false`: connect as soon as the client is created and stay connected (eager, as
   * `createWSClient` does by default).
   * @default true
   */
  enabled: boolean;
  /** How long to keep an unused connection, in ms. @default 0 */
  closeMs: number;
}

/** One GET of the multiplexed stream. */
interface Session {
  readonly abort: AbortController;
  url: string;
  /** The headers and connection params it was opened with: a resume needs the same. */
  identity: string;
  maxControlBytes: number;
  connectionId: string | null;
  secret: string | null;
  lastSeq: number;
  /** Subscriptions whose `subscribe` rode on the opening request (§2.1 of PROTOCOL.md). */
  opening: ReadonlySet<string>;
  done: Promise<StreamFailure | { kind: 'closed' }>;
}

/**
 * The largest `subscribe` query parameter a new stream carries (characters, before
 * percent-encoding); subscriptions past it go in the first control request instead. Well
 * under the URL limits of servers and proxies (commonly 8 KiB).
 */
const MAX_OPENING_CHARS = 2048;

/** What a server that does not say takes in one control request. */
const DEFAULT_MAX_CONTROL_BYTES = 64 * 1024;

const identity = (value: unknown): unknown => value;

/**
 * Every subscription of a client on one event stream (PROTOCOL.md §2). It owns the stream's
 * reconnect loop: a broken stream comes back with resume headers (the server replays what was
 * missed); a new connection gets every subscription again, each from its last tracked id; a
 * drain moves everything to a new connection before the old one is let go.
 */
export class MultiplexedTransport implements Transport {
  readonly #runtime: ClientRuntime;
  readonly #lazy: LazyOptions;
  readonly #onUnsupported: ((reason: AnyClientError) => void) | undefined;
  readonly #onOpened: (() => void) | undefined;
  readonly #subscriptions = new Map<string, MuxClientSubscription>();
  readonly #control: ControlChannel;
  #nextId = 1;
  #session: Session | null = null;
  /** The last session whose connection opened: a reconnect tries to resume it. */
  #resumable: Session | null = null;
  /** The session being replaced by a drain handover. */
  #handoverFrom: Session | null = null;
  #looping = false;
  #closed = false;
  #everOpened = false;
  #failures = 0;
  #lazyTimer: ReturnType<typeof setTimeout> | undefined;
  #transformer: TRPCCombinedDataTransformer | undefined;
  /**
   * Subscriptions ended while no stream was open, by the connection they run on: if that
   * connection resumes, they are unsubscribed there (else they would run on unseen).
   */
  #orphans: Array<{ id: string; connectionId: string }> = [];

  constructor(
    runtime: ClientRuntime,
    opts: {
      lazy?: Partial<LazyOptions>;
      /** The server has no multiplexed endpoint: the transport has stopped; `reason` is its answer. */
      onUnsupported?: (reason: AnyClientError) => void;
      /** The first connection opened. */
      onOpened?: () => void;
    },
  ) {
    this.#runtime = runtime;
    this.#lazy = { enabled: opts.lazy?.enabled ?? true, closeMs: opts.lazy?.closeMs ?? 0 };
    this.#onUnsupported = opts.onUnsupported;
    this.#onOpened = opts.onOpened;
    this.#control = new ControlChannel(
      runtime,
      () => this.#target(),
      {
        lost: (connectionId) => this.#connectionLost(connectionId),
        rejected: (ops, error) => this.#rejected(ops, error),
        dropped: (ops, connectionId) => this.#dropped(ops, connectionId),
      },
      () => this.#deserialize,
    );
    if (!this.#lazy.enabled) this.#ensureLoop();
  }

  subscribe(op: Operation, transformer: TRPCCombinedDataTransformer, observer: EnvelopeObserver): Unsubscribable {
    if (this.#closed) throw new Error('trpc-sse: this client is closed');
    this.#transformer = transformer;
    const subscription = new MuxClientSubscription(String(this.#nextId++), op, transformer, observer);
    this.#subscriptions.set(subscription.id, subscription);
    // Its state is the connection's (as wsLink reports it): an open connection needs no
    // connecting, only the `subscribe` below.
    if (this.#target() && this.#runtime.connectionState.get().state === 'pending') subscription.pending();
    else subscription.connecting(null);
    if (this.#lazyTimer) clearTimeout(this.#lazyTimer);
    this.#lazyTimer = undefined;
    this.#sendSubscribe(subscription);
    this.#ensureLoop();
    return { unsubscribe: () => this.#unsubscribe(subscription) };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const subscription of this.#subscriptions.values()) subscription.complete();
    this.#subscriptions.clear();
    this.#leaveConnection();
    this.#control.close();
    this.#runtime.setConnectionState({ type: 'state', state: 'idle', error: null });
  }

  get #deserialize(): (value: unknown) => unknown {
    const transformer = this.#transformer;
    return transformer ? (value) => transformer.output.deserialize(value) : identity;
  }

  #wanted(): boolean {
    return !this.#closed && (!this.#lazy.enabled || this.#subscriptions.size > 0);
  }

  #target(): ControlTarget | null {
    const session = this.#session;
    if (!session?.connectionId || !session.secret) return null;
    return { url: session.url, connectionId: session.connectionId, secret: session.secret, maxBodyBytes: session.maxControlBytes };
  }

  #sendSubscribe(subscription: MuxClientSubscription): void {
    const target = this.#target();
    if (!target || subscription.ended) return;
    const op = this.#subscribeOp(subscription);
    if (!op) return;
    subscription.sentOn = target.connectionId;
    subscription.started = false;
    this.#control.send(target.connectionId, op.op, op.json);
  }

  /**
   * The subscription's `subscribe` op and its JSON, or `null` when its input cannot be
   * serialized (a cycle, a BigInt without a transformer, a throwing transformer): then that
   * subscription fails alone, with a typed error, instead of breaking the requests it rides on.
   */
  #subscribeOp(subscription: MuxClientSubscription): { op: SubscribeOpWire; json: string } | null {
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

  #unsubscribe(subscription: MuxClientSubscription): void {
    if (!subscription.end()) return;
    this.#subscriptions.delete(subscription.id);
    const target = this.#target();
    if (target && subscription.sentOn === target.connectionId) {
      this.#control.send(target.connectionId, { op: 'unsubscribe', id: subscription.id });
    } else if (subscription.sentOn !== null) {
      this.#orphans.push({ id: subscription.id, connectionId: subscription.sentOn });
    }
    this.#closeIfUnused();
  }

  /** Lazy mode: the last subscription ended (however it ended): close after `closeMs`. */
  #closeIfUnused(): void {
    if (!this.#lazy.enabled || this.#subscriptions.size > 0 || this.#lazyTimer) return;
    this.#lazyTimer = setTimeout(() => {
      this.#lazyTimer = undefined;
      if (this.#subscriptions.size === 0) this.#leaveConnection();
    }, this.#lazy.closeMs);
    // An unused connection's countdown must not keep a Node process alive.
    (this.#lazyTimer as { unref?: () => void }).unref?.();
  }

  /** Ops that never reached the server: resend subscribes, and unsubscribe orphans, when a connection opens. */
  #dropped(ops: readonly ControlOp[], connectionId: string): void {
    for (const op of ops) {
      if (op.op === 'subscribe') {
        const subscription = this.#subscriptions.get(op.id);
        if (subscription?.sentOn === connectionId) subscription.sentOn = null;
      } else if (op.op === 'unsubscribe') {
        this.#orphans.push({ id: op.id, connectionId });
      }
    }
  }

  /** Closes the connection on the server (best effort) and ends the stream. */
  #leaveConnection(): void {
    const target = this.#target();
    if (target) this.#control.sendNow(target, [{ op: 'close' }]);
    const session = this.#session;
    this.#session = null;
    this.#resumable = null;
    session?.abort.abort();
    this.#handoverFrom?.abort.abort();
    this.#handoverFrom = null;
    if (!this.#closed) this.#runtime.setConnectionState({ type: 'state', state: 'idle', error: null });
  }

  #ensureLoop(): void {
    if (this.#looping || !this.#wanted()) return;
    this.#looping = true;
    let crashed = false;
    void this.#loop()
      .catch((cause: unknown) => {
        // Not expected (application code is called through guards), but a loop that dies must
        // neither leave a rejection unheard nor come straight back without its backoff.
        crashed = true;
        reportUserError('the connection loop', cause);
      })
      .finally(() => {
        this.#looping = false;
        // Subscribed again while the loop was winding down. (Not merely "wanted": after a
        // failure the policy does not retry, only a new subscription may try again.)
        if (!this.#wanted() || this.#session || this.#subscriptions.size === 0) return;
        if (!crashed) return this.#ensureLoop();
        this.#failures++;
        void this.#runtime.sleep(this.#runtime.backoff(this.#failures), NEVER).then(() => this.#ensureLoop());
      });
  }

  async #loop(): Promise<void> {
    while (this.#wanted()) {
      const session = this.#session ?? this.#startSession(false);
      const outcome = await session.done;
      if (!this.#wanted()) return;
      // Superseded while we waited (a drain handover): follow the current session.
      if (session !== this.#session) continue;
      this.#session = null;
      if (outcome.kind === 'closed') continue;
      const { error } = outcome;
      if (!this.#everOpened && this.#onUnsupported && isUnsupported(error)) {
        this.#fallBack(error);
        return;
      }
      this.#failures++;
      this.#runtime.notifyError(error);
      if (outcome.fatal || !this.#runtime.shouldRetry({ error, attempt: this.#failures, op: undefined, source: 'transport' })) {
        for (const subscription of this.#subscriptions.values()) subscription.fail(error);
        this.#subscriptions.clear();
        this.#resumable = null;
        this.#runtime.setConnectionState({ type: 'state', state: 'idle', error: null });
        return;
      }
      this.#runtime.setConnectionState({ type: 'state', state: 'connecting', error });
      for (const subscription of [...this.#subscriptions.values()]) {
        // A subscription with its own policy (`context.retry`) is asked too: one that must
        // not be retried fails now rather than be started again on the next connection.
        if (this.#runtime.operationForbidsRetry({ error, attempt: this.#failures, op: subscription.op, source: 'transport' })) {
          this.#giveUp(subscription, error);
        } else {
          subscription.connecting(error);
        }
      }
      await this.#runtime.sleep(this.#runtime.backoff(this.#failures), NEVER);
    }
  }

  /** Opens a stream: resuming the last connection unless `fresh`. */
  #startSession(fresh: boolean): Session {
    const resume = fresh ? null : this.#resumable;
    const session: Session = {
      abort: new AbortController(),
      url: '',
      identity: '',
      maxControlBytes: DEFAULT_MAX_CONTROL_BYTES,
      connectionId: null,
      secret: null,
      lastSeq: 0,
      opening: new Set(),
      done: Promise.resolve({ kind: 'closed' }),
    };
    this.#session = session;
    if (!this.#handoverFrom) this.#runtime.setConnectionState({ ...this.#runtime.connectionState.get(), state: 'connecting' });
    session.done = (async () => {
      let inputs: RequestInputs | null;
      try {
        inputs = await this.#runtime.requestInputs(session.abort.signal);
      } catch (cause) {
        return setupFailure(cause);
      }
      if (!inputs) return { kind: 'closed' as const };
      const url = multiplexedUrl(inputs.url);
      session.url = url;
      const requestHeaders: Record<string, string> = { ...inputs.headers, accept: EVENT_STREAM_ACCEPT };
      if (inputs.connectionParams) requestHeaders[MUX_HEADER.connectionParams] = encodeURIComponent(JSON.stringify(inputs.connectionParams));
      session.identity = JSON.stringify([url, requestHeaders]);
      // Resume only as the same party: new credentials must reach createContext.
      if (resume?.connectionId && resume.secret && resume.identity === session.identity) {
        requestHeaders[LAST_EVENT_ID_HEADER] = String(resume.lastSeq);
        requestHeaders[MUX_HEADER.connection] = resume.connectionId;
        requestHeaders[MUX_HEADER.secret] = resume.secret;
      }
      const streamUrl = this.#withOpeningSubscribes(session, inputs.url);
      if (session.abort.signal.aborted) return { kind: 'closed' as const };
      return runEventStream<{ kind: 'closed' }>(this.#runtime, {
        url: streamUrl,
        headers: requestHeaders,
        signal: session.abort.signal,
        deserialize: this.#deserialize,
        onMessage: (message, control) => this.#onMessage(session, resume, message, control),
      });
    })();
    return session;
  }

  /**
   * A stream's request carries the subscriptions a new connection would need (as many as fit
   * {@link MAX_OPENING_CHARS}), so their first events need no control request first. A resume
   * carries them too: a server that no longer has the connection (a restart) opens a new one
   * and starts them at once, sparing each of its clients a round trip. Not in a drain
   * handover, where the old stream still delivers: those subscriptions move only once the new
   * connection is there, each from the last id the old one delivered.
   */
  #withOpeningSubscribes(session: Session, endpoint: string): string {
    const ops: SubscribeOpWire[] = [];
    const ids = new Set<string>();
    const onlyWaiting = this.#handoverFrom !== null;
    let size = 2;
    for (const subscription of this.#subscriptions.values()) {
      if (subscription.retryTimer || subscription.ended || (onlyWaiting && subscription.sentOn !== null)) continue;
      const op = this.#subscribeOp(subscription);
      if (!op) continue;
      const opSize = op.json.length + 1;
      if (size + opSize > MAX_OPENING_CHARS) break;
      ops.push(op.op);
      ids.add(subscription.id);
      size += opSize;
    }
    if (ops.length === 0) return multiplexedUrl(endpoint);
    session.opening = ids;
    return multiplexedUrl(endpoint, [`${QUERY_PARAM.subscribe}=${encodeURIComponent(JSON.stringify(ops))}`]);
  }

  #onMessage(session: Session, resume: Session | null, message: SSEMessage, control: StreamControl<{ kind: 'closed' }>): void {
    if (message.event === MUX_EVENT.connection) {
      this.#onConnection(session, resume, JSON.parse(message.data) as ConnectionHello, control);
      return;
    }
    if (!session.connectionId) {
      // A server that does not speak this protocol.
      control.finish({
        kind: 'error',
        error: clientErrorWithCode('UNSUPPORTED_MEDIA_TYPE', 'The stream did not start with a "connection" event', 415),
      });
      return;
    }
    if (message.id !== undefined) session.lastSeq = Number(message.id);
    switch (message.event) {
      case MUX_EVENT.ping:
        return;
      case MUX_EVENT.reconnect: {
        const { afterMs } = JSON.parse(message.data) as ReconnectFrameData;
        setTimeout(() => this.#handover(session), Math.max(0, Math.min(afterMs, 60_000)));
        return;
      }
      case 'message': {
        const frame = JSON.parse(message.data) as ValueFrameData;
        this.#subscriptions.get(frame.s)?.onData(frame.i, frame.d, message.data);
        return;
      }
      case MUX_EVENT.started: {
        const { s } = JSON.parse(message.data) as SubscriptionFrameData;
        this.#subscriptions.get(s)?.onStarted();
        return;
      }
      case MUX_EVENT.checkpoint: {
        const { s, i } = JSON.parse(message.data) as CheckpointFrameData;
        const subscription = this.#subscriptions.get(s);
        if (subscription) subscription.lastEventId = i;
        return;
      }
      case MUX_EVENT.reset: {
        const { s, r, i } = JSON.parse(message.data) as ResetFrameData;
        const subscription = this.#subscriptions.get(s);
        if (!subscription) return;
        subscription.lastEventId = i ?? undefined;
        this.#runtime.notifyReset({ op: subscription.op, reason: r, lastEventId: i });
        return;
      }
      case MUX_EVENT.return: {
        const { s } = JSON.parse(message.data) as SubscriptionFrameData;
        const subscription = this.#subscriptions.get(s);
        if (!subscription) return;
        this.#subscriptions.delete(s);
        subscription.complete();
        this.#closeIfUnused();
        return;
      }
      case MUX_EVENT.failed: {
        const { s, e } = JSON.parse(message.data) as FailedFrameData;
        const subscription = this.#subscriptions.get(s);
        if (subscription && subscription.sentOn === session.connectionId) this.#subscriptionFailed(subscription, subscription.errorFrom(e), 'procedure');
        return;
      }
      default:
      // Unknown events are ignored: newer servers may send more.
    }
  }

  #onConnection(session: Session, resume: Session | null, hello: ConnectionHello, control: StreamControl<{ kind: 'closed' }>): void {
    if (typeof hello.reconnectAfterInactivityMs === 'number' && hello.reconnectAfterInactivityMs > 0) {
      control.watchInactivity(hello.reconnectAfterInactivityMs);
    }
    const resumed = hello.resumed && resume?.connectionId === hello.connectionId;
    session.connectionId = hello.connectionId;
    session.secret = hello.secret;
    if (typeof hello.maxControlBytes === 'number' && hello.maxControlBytes > 0) session.maxControlBytes = hello.maxControlBytes;
    session.lastSeq = resumed ? resume.lastSeq : 0;
    this.#resumable = session;
    if (!this.#everOpened) this.#onOpened?.();
    this.#everOpened = true;
    this.#failures = 0;
    const previous = this.#handoverFrom;
    if (previous) {
      // Drain handover: from here on the old stream is ignored, so every subscription
      // continues from the last id it delivered, once, on the new connection. One that was
      // running does not report `started` again: for the app nothing stopped.
      this.#handoverFrom = null;
      for (const subscription of this.#subscriptions.values()) subscription.move();
      previous.abort.abort();
      if (previous.connectionId && previous.secret) {
        this.#control.sendNow(
          { url: previous.url, connectionId: previous.connectionId, secret: previous.secret, maxBodyBytes: previous.maxControlBytes },
          [{ op: 'close' }],
        );
      }
    }
    this.#runtime.setConnectionState({ type: 'state', state: 'pending', error: null });
    this.#runtime.notifyOpen();
    const orphans = this.#orphans;
    this.#orphans = [];
    if (resumed) {
      for (const orphan of orphans) {
        if (orphan.connectionId === hello.connectionId) this.#control.send(hello.connectionId, { op: 'unsubscribe', id: orphan.id });
      }
      for (const subscription of this.#subscriptions.values()) {
        if (subscription.sentOn === hello.connectionId && subscription.started) subscription.resumed();
        // Sent but never confirmed (the request may have been lost with the stream): again;
        // the server ignores a duplicate.
        else if (subscription.sentOn === hello.connectionId) this.#sendSubscribe(subscription);
        // Made while the stream was down (and not waiting out a retry backoff): send it now.
        else if (subscription.sentOn === null && !subscription.retryTimer) this.#sendSubscribe(subscription);
      }
      return;
    }
    const started = new Set(Array.isArray(hello.subscribed) ? hello.subscribed : []);
    for (const id of session.opening) {
      // Started by the opening request but ended since: stop it there.
      if (started.has(id) && !this.#subscriptions.has(id)) this.#control.send(hello.connectionId, { op: 'unsubscribe', id });
    }
    for (const subscription of this.#subscriptions.values()) {
      if (session.opening.has(subscription.id) && started.has(subscription.id)) {
        subscription.sentOn = hello.connectionId;
        subscription.started = false;
      } else {
        this.#sendSubscribe(subscription);
      }
    }
  }

  /** Fails a subscription for good; if a connection that may resume still runs it, it is stopped there then. */
  #giveUp(subscription: MuxClientSubscription, error: AnyClientError): void {
    this.#subscriptions.delete(subscription.id);
    if (subscription.sentOn !== null) this.#orphans.push({ id: subscription.id, connectionId: subscription.sentOn });
    subscription.fail(error);
    this.#closeIfUnused();
  }

  #subscriptionFailed(subscription: MuxClientSubscription, error: AnyClientError, source: 'procedure' | 'transport'): void {
    subscription.sentOn = null;
    subscription.started = false;
    subscription.failures++;
    this.#runtime.notifyError(error);
    if (!this.#runtime.shouldRetry({ error, attempt: subscription.failures, op: subscription.op, source })) {
      this.#giveUp(subscription, error);
      return;
    }
    subscription.connecting(error);
    subscription.retryTimer = setTimeout(() => {
      subscription.retryTimer = undefined;
      // Not yet resent by a new connection in the meantime.
      if (subscription.sentOn === null) this.#sendSubscribe(subscription);
    }, this.#runtime.backoff(subscription.failures));
  }

  /** A drain asked us to move: open a new connection while the old one keeps delivering. */
  #handover(from: Session, attempt = 1): void {
    if (this.#session !== from || this.#handoverFrom || !this.#wanted()) return;
    this.#handoverFrom = from;
    const next = this.#startSession(true);
    void next.done.then((outcome) => {
      // The new stream failed before it opened: stay on the old one, and send it what was
      // subscribed meanwhile (it waited for the new connection).
      if (this.#handoverFrom === from && !next.connectionId) {
        this.#handoverFrom = null;
        this.#session = from;
        for (const subscription of this.#subscriptions.values()) {
          if (subscription.sentOn === null && !subscription.retryTimer) this.#sendSubscribe(subscription);
        }
        if (outcome.kind !== 'error') return;
        this.#runtime.notifyError(outcome.error);
        // The server still wants us gone (it is draining): try again after the backoff, while
        // the old stream keeps delivering, if the policy says so. (A request that reused a
        // kept-alive connection to the draining process is refused; the next one may reach another.)
        if (outcome.fatal || !this.#runtime.shouldRetry({ error: outcome.error, attempt, op: undefined, source: 'transport' })) return;
        void this.#runtime.sleep(this.#runtime.backoff(attempt), NEVER).then(() => this.#handover(from, attempt + 1));
      }
    });
  }

  #connectionLost(connectionId: string): void {
    const session = this.#session;
    if (session?.connectionId !== connectionId) return;
    // The server forgot the connection: start a new one (which resubscribes everything).
    this.#resumable = null;
    session.abort.abort();
  }

  #rejected(ops: readonly ControlOp[], error: AnyClientError): void {
    for (const op of ops) {
      if (op.op !== 'subscribe') continue;
      const subscription = this.#subscriptions.get(op.id);
      if (subscription) this.#subscriptionFailed(subscription, error, 'transport');
    }
  }

  #fallBack(reason: AnyClientError): void {
    this.#closed = true;
    for (const subscription of this.#subscriptions.values()) subscription.end();
    this.#subscriptions.clear();
    this.#onUnsupported?.(reason);
  }
}

/** A never-aborting signal for waits that only the `online` event may cut short. */
const NEVER = new AbortController().signal;

/** What a server without the multiplexed protocol answers at the endpoint. */
function isUnsupported(error: AnyClientError): boolean {
  const code = errorCode(error);
  return code === 'NOT_FOUND' || code === 'METHOD_NOT_SUPPORTED' || code === 'UNSUPPORTED_MEDIA_TYPE';
}
