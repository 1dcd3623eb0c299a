import type { Unsubscribable } from '@trpc/server/observable';
import { errorCode, type AnyClientError } from '../errors.js';
import type { ClientRuntime } from '../runtime.js';
import type { SubscriptionRequest, Transport } from '../transport.js';
import { nextTask } from '../nextTask.js';
import { reportUserError } from '../userCode.js';
import { ControlChannel } from './controlChannel.js';
import { MuxSession } from './session.js';
import { SubscriptionTable } from './subscriptionTable.js';

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

/**
 * Every subscription of a client on one event stream (PROTOCOL.md §2). The transport owns the
 * connection's lifetime: the reconnect loop (a broken stream comes back resuming its
 * connection, whose server replays what was missed; a new connection gets every subscription
 * again, each from its last tracked id), lazy opening and closing, and the drain handover
 * (everything moves to a new connection before the old one is let go). One stream is a
 * {@link MuxSession}; what was sent where is the {@link SubscriptionTable}'s.
 */
export class MultiplexedTransport implements Transport {
  readonly #runtime: ClientRuntime;
  readonly #lazy: LazyOptions;
  readonly #onUnsupported: ((reason: AnyClientError) => Transport) | undefined;
  readonly #onMisdirected: ((reason: AnyClientError) => Transport) | undefined;
  readonly #onOpened: (() => void) | undefined;
  readonly #table: SubscriptionTable;
  readonly #control: ControlChannel;
  #session: MuxSession | null = null;
  /** The last session whose connection opened: a reconnect tries to resume it. */
  #resumable: MuxSession | null = null;
  /** The session being replaced by a drain handover. */
  #handoverFrom: MuxSession | null = null;
  #looping = false;
  #closed = false;
  #everOpened = false;
  #failures = 0;
  /** Cancels the pending close of an unused connection (lazy mode), if one is pending. */
  #cancelLazyClose: (() => void) | undefined;

  constructor(
    runtime: ClientRuntime,
    opts: {
      lazy?: Partial<LazyOptions>;
      /**
       * The server has no multiplexed endpoint: the transport has stopped; `reason` is its
       * answer. Returns the transport that carries the subscriptions on.
       */
      onUnsupported?: (reason: AnyClientError) => Transport;
      /**
       * Control requests cannot reach the stream's server process (a balancer without sticky
       * sessions, no directory on the server): the transport has stopped and closed its
       * connection. Returns the transport that carries the subscriptions on, each from its
       * last tracked id. Without it, the connection is treated as lost (a new one is opened).
       */
      onMisdirected?: (reason: AnyClientError) => Transport;
      /** The first connection opened. */
      onOpened?: () => void;
    },
  ) {
    this.#runtime = runtime;
    this.#lazy = { enabled: opts.lazy?.enabled ?? true, closeMs: opts.lazy?.closeMs ?? 0 };
    this.#onUnsupported = opts.onUnsupported;
    this.#onMisdirected = opts.onMisdirected;
    this.#onOpened = opts.onOpened;
    const target = () => this.#session?.target() ?? null;
    this.#table = new SubscriptionTable(runtime, {
      target,
      send: (connectionId, op, json) => this.#control.send(connectionId, op, json),
      emptied: () => this.#closeIfUnused(),
    });
    this.#control = new ControlChannel(runtime, target, {
      lost: (connectionId) => this.#connectionLost(connectionId),
      misdirected: (connectionId, reason) => this.#misdirected(connectionId, reason),
      rejected: (ops, error) => this.#table.rejected(ops, error),
      dropped: (ops, connectionId) => this.#table.dropped(ops, connectionId),
      deserialize: () => this.#table.deserialize,
    });
    if (!this.#lazy.enabled) this.#ensureLoop();
  }

  subscribe(request: SubscriptionRequest): Unsubscribable {
    if (this.#closed) throw new Error('trpc-sse: this client is closed');
    if (this.#cancelLazyClose) {
      this.#cancelLazyClose();
      this.#cancelLazyClose = undefined;
      // Kept: the unsubscribes held back while the connection was to close go with this subscribe.
      this.#control.release();
    }
    const open = this.#session?.opened === true && this.#runtime.connectionState.get().state === 'pending';
    const subscription = this.#table.add(request, open);
    this.#ensureLoop();
    return {
      unsubscribe: () => {
        if (!subscription.unsubscribeSuccessor()) this.#table.remove(subscription);
      },
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#table.completeAll();
    this.#leaveConnection();
    this.#control.close();
    this.#runtime.setConnectionState({ type: 'state', state: 'idle', error: null });
  }

  #wanted(): boolean {
    return !this.#closed && (!this.#lazy.enabled || this.#table.size > 0);
  }

  /** Lazy mode: the last subscription ended (however it ended): close after `closeMs`. */
  #closeIfUnused(): void {
    if (!this.#lazy.enabled || this.#table.size > 0 || this.#cancelLazyClose) return;
    const closeIfStillUnused = (): void => {
      this.#cancelLazyClose = undefined;
      // First: an app observer of the connection state that throws below must not leave the
      // control channel held.
      this.#control.release();
      if (this.#table.size === 0) this.#leaveConnection();
    };
    if (this.#lazy.closeMs > 0) {
      const timer = setTimeout(closeIfStillUnused, this.#lazy.closeMs);
      // An unused connection's countdown must not keep a Node process alive.
      (timer as { unref?: () => void }).unref?.();
      this.#cancelLazyClose = () => clearTimeout(timer);
      return;
    }
    // Closing in the next task unless something subscribes first: the connection's `close`
    // ends its subscriptions on the server, so the unsubscribes wait for the decision (one
    // request instead of two). The next task, not a timer: a hidden tab's timers are throttled,
    // and the server would go on sending meanwhile.
    this.#control.hold();
    this.#cancelLazyClose = nextTask(closeIfStillUnused);
  }

  /** Closes the connection on the server (best effort) and ends the stream. */
  #leaveConnection(): void {
    this.#closeOnServer(this.#session);
    this.#session?.abort();
    this.#session = null;
    this.#resumable = null;
    // Left mid-handover: the connection being moved from runs on too until it is closed.
    this.#closeOnServer(this.#handoverFrom);
    this.#handoverFrom?.abort();
    this.#handoverFrom = null;
    if (!this.#closed) this.#runtime.setConnectionState({ type: 'state', state: 'idle', error: null });
  }

  #closeOnServer(session: MuxSession | null): void {
    const target = session?.target();
    if (target) this.#control.sendClose(target);
  }

  #ensureLoop(): void {
    if (this.#looping || !this.#wanted()) return;
    this.#looping = true;
    let crashed = false;
    this.#loop()
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
        if (!this.#wanted() || this.#session || this.#table.size === 0) return;
        if (!crashed) return this.#ensureLoop();
        this.#failures++;
        void this.#runtime.sleep(this.#runtime.backoff(this.#failures), NEVER).then(() => this.#ensureLoop());
      })
      .catch((cause: unknown) => reportUserError('the connection loop', cause));
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
      if (
        outcome.fatal ||
        !this.#runtime.shouldRetry({ error, attempt: this.#failures, op: undefined, source: 'transport' })
      ) {
        this.#table.failAll(error);
        this.#resumable = null;
        this.#runtime.setConnectionState({ type: 'state', state: 'idle', error: null });
        return;
      }
      this.#runtime.setConnectionState({ type: 'state', state: 'connecting', error });
      this.#table.connectionRetrying(error, this.#failures);
      await this.#runtime.sleep(this.#runtime.backoff(this.#failures), NEVER);
    }
  }

  /** Opens a stream: resuming the last connection unless this is a drain handover. */
  #startSession(handover: boolean): MuxSession {
    if (!handover) this.#runtime.setConnectionState({ ...this.#runtime.connectionState.get(), state: 'connecting' });
    const session = new MuxSession(
      this.#runtime,
      this.#table,
      {
        opened: (opened) => this.#opened(opened),
        draining: (from, afterMs) => setTimeout(() => this.#handover(from), afterMs),
      },
      { resume: handover ? null : this.#resumable, handover },
    );
    this.#session = session;
    return session;
  }

  /** A session's connection is open (the table then reconciles its subscriptions with it). */
  #opened(session: MuxSession): void {
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
      this.#table.moveAll();
      this.#closeOnServer(previous);
      previous.abort();
    }
    this.#runtime.setConnectionState({ type: 'state', state: 'pending', error: null });
    this.#runtime.notifyOpen();
  }

  /** A drain asked us to move: open a new connection while the old one keeps delivering. */
  #handover(from: MuxSession, attempt = 1): void {
    if (this.#session !== from || this.#handoverFrom || !this.#wanted()) return;
    this.#handoverFrom = from;
    const next = this.#startSession(true);
    void next.done.then((outcome) => {
      // The new stream failed before it opened: stay on the old one, and send it what was
      // subscribed meanwhile (it waited for the new connection).
      if (this.#handoverFrom !== from || next.opened) return;
      this.#handoverFrom = null;
      this.#session = from;
      this.#table.sendWaiting();
      if (outcome.kind !== 'error') return;
      this.#runtime.notifyError(outcome.error);
      // The server still wants us gone (it is draining): try again after the backoff, while
      // the old stream keeps delivering, if the policy says so. (A request that reused a
      // kept-alive connection to the draining process is refused; the next one may reach another.)
      if (
        outcome.fatal ||
        !this.#runtime.shouldRetry({ error: outcome.error, attempt, op: undefined, source: 'transport' })
      )
        return;
      void this.#runtime.sleep(this.#runtime.backoff(attempt), NEVER).then(() => this.#handover(from, attempt + 1));
    });
  }

  /** The server forgot the connection: start a new one (which resubscribes everything). */
  #connectionLost(connectionId: string): void {
    const session = this.#session;
    if (session?.connectionId !== connectionId) return;
    this.#resumable = null;
    this.#control.abandon(connectionId);
    session.abort();
  }

  /**
   * A control request for the open connection reached another server process, which could not
   * hand it over: no later one can be relied on either, so the subscriptions go on in distinct
   * mode for good (each from its last tracked id: no gap, no error), and this connection is
   * closed: its stream at once, and on the server as far as a `close` can reach it.
   */
  #misdirected(connectionId: string, reason: AnyClientError): void {
    const session = this.#session;
    if (this.#closed || !session?.opened || session.connectionId !== connectionId) return;
    if (!this.#onMisdirected) {
      this.#connectionLost(connectionId);
      return;
    }
    this.#closed = true;
    this.#control.abandon(connectionId);
    this.#cancelLazyClose?.();
    this.#cancelLazyClose = undefined;
    this.#handOverTo(this.#onMisdirected(reason));
    // Subscriptions that rode on the stream's request run on the owner: stop them there if a
    // `close` gets through, else the owner does when its grace period ends.
    this.#leaveConnection();
    this.#control.close();
  }

  /** `mode: 'auto'` and the server has no multiplexed endpoint: the subscriptions go on in distinct mode. */
  #fallBack(reason: AnyClientError): void {
    this.#handOverTo(this.#onUnsupported!(reason));
  }

  /** This transport is done: every subscription goes on on `next`, from its last tracked id. */
  #handOverTo(next: Transport): void {
    this.#closed = true;
    this.#table.handOverAll((request) => next.subscribe(request));
  }
}

/** A never-aborting signal for waits that only the `online` event may cut short. */
const NEVER = new AbortController().signal;

/** What a server without the multiplexed protocol answers at the endpoint. */
function isUnsupported(error: AnyClientError): boolean {
  const code = errorCode(error);
  return code === 'NOT_FOUND' || code === 'METHOD_NOT_SUPPORTED' || code === 'UNSUPPORTED_MEDIA_TYPE';
}
