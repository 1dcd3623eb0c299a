import type { Unsubscribable } from '@trpc/server/observable';
import { toClientError } from '../errors.js';
import type { Resolvable } from '../options.js';
import type { ClientRuntime } from '../runtime.js';
import type { SubscriptionRequest, Transport } from '../transport.js';
import { reportUserError, settleUserValue } from '../userCode.js';
import { holdWhileAlive, ifFirst, Leadership, whenFreed, type LockManagerLike } from './leadership.js';
import { LeaderRelay } from './leaderRelay.js';
import { SharedSubscription } from './sharedSubscription.js';
import {
  aliveLockName,
  errorFromData,
  leaderLockName,
  sharedChannelName,
  stateData,
  tabChannelName,
  takeoverLockName,
  TAB_PROTOCOL,
  type SharedMessage,
  type TabMessage,
} from './tabMessages.js';

/** Options of `createSSEClient`'s `share`. */
export interface TabShareOptions {
  /**
   * Tabs share a stream only within one scope. By default the scope is the endpoint and a hash
   * of what `headers` and `connectionParams` resolve to when the tab joins, so two accounts in
   * one browser never share. Set it (e.g. to the signed-in user's id) when credentials change
   * while tabs stay open, such as a token refresh: tabs whose tokens differ for a moment then
   * still share, and the leader's current credentials open the stream.
   */
  scope?: Resolvable<string>;
  /**
   * How long a hidden leader keeps the stream before it asks a visible tab to take over (hidden
   * tabs' timers are throttled, which slows heartbeats and reconnects), in ms.
   * @default 5_000
   */
  hiddenLeaderMs?: number;
}

/** What this tab is in its scope. */
export type TabRole = 'joining' | 'leader' | 'follower' | 'unshared';

/** The browser APIs sharing needs; `null` when any is missing (then each tab has its own stream). */
export interface TabEnvironment {
  locks: LockManagerLike;
  BroadcastChannel: new (name: string) => BroadcastChannel;
  digest(text: string): Promise<string>;
  randomId(): string;
  /** The page's visibility (absent in a worker): `visibilitychange` fires here. */
  document: Pick<Document, 'visibilityState' | 'addEventListener' | 'removeEventListener'> | undefined;
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
  location: string | undefined;
}

/** The browser's, when it has everything sharing needs and the context is secure. */
function browserTabEnvironment(): TabEnvironment | null {
  const g = globalThis as {
    navigator?: { locks?: LockManagerLike };
    BroadcastChannel?: new (name: string) => BroadcastChannel;
    crypto?: Crypto;
    isSecureContext?: boolean;
    document?: Document;
    location?: { href?: string };
    addEventListener?: (type: string, listener: (event: Event) => void) => void;
    removeEventListener?: (type: string, listener: (event: Event) => void) => void;
  };
  const locks = g.navigator?.locks;
  const subtle = g.crypto?.subtle;
  if (!locks || typeof locks.request !== 'function' || typeof g.BroadcastChannel !== 'function' || !subtle) return null;
  if (g.isSecureContext === false || typeof g.crypto?.randomUUID !== 'function') return null;
  return {
    locks,
    BroadcastChannel: g.BroadcastChannel,
    async digest(text) {
      const bytes = new Uint8Array(await subtle.digest('SHA-256', new TextEncoder().encode(text)));
      return Array.from(bytes.subarray(0, 16), (byte) => byte.toString(16).padStart(2, '0')).join('');
    },
    randomId: () => g.crypto!.randomUUID(),
    document: g.document,
    addEventListener: (type, listener) => g.addEventListener?.(type, listener),
    removeEventListener: (type, listener) => g.removeEventListener?.(type, listener),
    location: g.location?.href,
  };
}

/**
 * One multiplexed stream per browser and scope, shared by its tabs (PROTOCOL.md §5). The tab
 * that holds the scope's Web Lock leads: its own transport (`lead()`) carries its
 * subscriptions and, through a {@link LeaderRelay}, the other tabs'. The others follow: they
 * send their subscriptions to the leader over BroadcastChannel and get their envelopes back
 * on a channel of their own. When the leader goes, the next tab in the lock's queue leads, and
 * every subscription resumes there from its last tracked id.
 */
class TabSharedTransport implements Transport {
  readonly #runtime: ClientRuntime;
  readonly #env: TabEnvironment;
  readonly #options: TabShareOptions;
  /** A transport of this tab: what carries the stream while it leads, or everything if it cannot share. */
  readonly #lead: () => Transport;
  readonly #me: string;
  readonly #local = new Map<string, SharedSubscription>();
  readonly #stop = new AbortController();
  #nextId = 1;
  #role: TabRole = 'joining';
  #joining: Promise<void> | null = null;
  #scope: string | null = null;
  #shared: BroadcastChannel | null = null;
  #inbox: BroadcastChannel | null = null;
  #alive: { release: () => void } | null = null;
  /**
   * This tab holds its alive lock. Until it does, it sends no subscription: a leader watching
   * for that lock to free would find it free and drop them at once.
   */
  #aliveHeld = false;
  #leadership: Leadership | null = null;
  /** The leader this tab follows (null: none known yet). */
  #leader: string | null = null;
  /** Leading: the transport and relay, the followers' channels, and what stops with the term. */
  #transport: Transport | null = null;
  #relay: LeaderRelay | null = null;
  #outboxes = new Map<string, BroadcastChannel>();
  /** Followers whose going is watched this term (their alive lock). */
  #watched = new Set<string>();
  #term: AbortController | null = null;
  #stateWatch: Unsubscribable | null = null;
  /** The leader said it has been hidden a while: a visible tab takes over. */
  #leaderHidden = false;
  #hiddenTimer: ReturnType<typeof setTimeout> | undefined;
  #suspended = false;
  #closed = false;

  constructor(runtime: ClientRuntime, env: TabEnvironment, options: TabShareOptions, lead: () => Transport) {
    this.#runtime = runtime;
    this.#env = env;
    this.#options = options;
    this.#lead = lead;
    this.#me = env.randomId();
  }

  get role(): TabRole {
    return this.#role;
  }

  subscribe(request: SubscriptionRequest): Unsubscribable {
    if (this.#closed) throw new Error('trpc-sse: this client is closed');
    const subscription = new SharedSubscription(String(this.#nextId++), request);
    this.#local.set(subscription.id, subscription);
    const state = this.#runtime.connectionState.get().state;
    subscription.state(state === 'pending' ? 'pending' : 'connecting', null);
    if (this.#role === 'joining') void this.#join();
    else this.#carry(subscription);
    return {
      unsubscribe: () => {
        if (subscription.ended) return;
        this.#local.delete(subscription.id);
        if (this.#role === 'follower' && this.#leader && !subscription.carrier) {
          this.#postShared({ v: TAB_PROTOCOL, t: 'unsub', from: this.#me, to: this.#leader, id: subscription.id });
        }
        subscription.cancel();
      },
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const subscription of this.#local.values()) subscription.close();
    this.#local.clear();
    this.#leave();
    this.#stop.abort();
    this.#shared?.close();
    this.#inbox?.close();
    this.#env.removeEventListener('pagehide', this.#onPageHide);
    this.#env.removeEventListener('pageshow', this.#onPageShow);
    this.#env.document?.removeEventListener('visibilitychange', this.#onVisibility);
    if (this.#role !== 'unshared') this.#runtime.setConnectionState({ type: 'state', state: 'idle', error: null });
    this.#transport?.close();
  }

  #join(): Promise<void> {
    this.#joining ??= this.#joinScope().catch((cause: unknown) => {
      // The scope could not be worked out (the app's `scope`, `url` or `headers` failed):
      // this tab carries its subscriptions itself, as without sharing.
      reportUserError('share.scope', cause);
      this.#role = 'unshared';
      for (const subscription of this.#local.values()) this.#carryHere(subscription, this.#ownTransport());
    });
    return this.#joining;
  }

  async #joinScope(): Promise<void> {
    const scope = await this.#resolveScope();
    if (this.#closed) return;
    this.#scope = scope;
    this.#shared = new this.#env.BroadcastChannel(sharedChannelName(scope));
    this.#shared.onmessage = (event: MessageEvent) => this.#onShared(event.data as SharedMessage);
    this.#inbox = new this.#env.BroadcastChannel(tabChannelName(scope, this.#me));
    this.#inbox.onmessage = (event: MessageEvent) => this.#onTab(event.data as TabMessage);
    this.#leadership = new Leadership(this.#env.locks, leaderLockName(scope), {
      elected: () => this.#elected(),
      deposed: () => this.#deposed(),
    });
    this.#env.addEventListener('pagehide', this.#onPageHide);
    this.#env.addEventListener('pageshow', this.#onPageShow);
    this.#env.document?.addEventListener('visibilitychange', this.#onVisibility);
    this.#role = 'follower';
    await this.#enter();
  }

  /** Joins the scope's tabs: holds this tab's alive lock, asks who leads, stands for leader. */
  async #enter(): Promise<void> {
    const alive = holdWhileAlive(this.#env.locks, aliveLockName(this.#scope!, this.#me));
    this.#alive = alive;
    await alive.granted;
    if (this.#closed || this.#suspended || this.#alive !== alive) return;
    this.#aliveHeld = true;
    // A leader announced itself meanwhile: what waited for the lock goes to it now.
    if (this.#leader) for (const subscription of this.#local.values()) this.#carry(subscription);
    if (this.#runtime.connectionState.get().state === 'idle') {
      this.#runtime.setConnectionState({ type: 'state', state: 'connecting', error: null });
    }
    this.#postShared({ v: TAB_PROTOCOL, t: 'hello', from: this.#me });
    this.#leadership!.stand();
  }

  /** Leaves the scope's tabs (closing, or into the back/forward cache). */
  #leave(): void {
    if (this.#role === 'follower') this.#postShared({ v: TAB_PROTOCOL, t: 'bye', from: this.#me });
    this.#leadership?.withdraw();
    this.#alive?.release();
    this.#alive = null;
    this.#aliveHeld = false;
    this.#leader = null;
  }

  async #resolveScope(): Promise<string> {
    const signal = this.#stop.signal;
    if (this.#options.scope !== undefined) {
      const scope = await settleUserValue('share.scope', this.#options.scope, signal);
      if (typeof scope !== 'string' || scope === '')
        throw new TypeError('share.scope must resolve to a non-empty string');
      return `scope:${await this.#env.digest(scope)}`;
    }
    const inputs = await this.#runtime.requestInputs(signal);
    if (!inputs) throw new Error('closed');
    const url = this.#env.location ? new URL(inputs.url, this.#env.location).href : inputs.url;
    const headers = Object.entries(inputs.headers)
      .map(([name, value]) => [name.toLowerCase(), value])
      .sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
    return `auto:${await this.#env.digest(JSON.stringify([url, headers, inputs.connectionParams]))}`;
  }

  /** Sends a subscription to whoever carries it: this tab while it leads, else the leader. */
  #carry(subscription: SharedSubscription): void {
    if (subscription.ended) return;
    if (this.#role === 'unshared') return this.#carryHere(subscription, this.#ownTransport());
    if (this.#transport) return this.#carryHere(subscription, this.#transport);
    if (this.#role !== 'follower' || !this.#leader || this.#suspended || !this.#aliveHeld) return;
    subscription.move();
    const { op, transformer } = subscription.request;
    let input: unknown;
    try {
      input = op.input === undefined ? undefined : transformer.input.serialize(op.input);
    } catch (cause) {
      this.#local.delete(subscription.id);
      subscription.fail(toClientError(cause));
      return;
    }
    this.#postShared({
      v: TAB_PROTOCOL,
      t: 'sub',
      from: this.#me,
      to: this.#leader,
      id: subscription.id,
      path: op.path,
      input,
      lastEventId: subscription.lastEventId,
      noRetry: (op.context as { retry?: unknown } | undefined)?.retry === false,
    });
  }

  #carryHere(subscription: SharedSubscription, transport: Transport): void {
    const generation = subscription.move();
    const { op, transformer } = subscription.request;
    subscription.carrier = transport.subscribe({
      op,
      transformer,
      observer: subscription.observerFor(generation, () => this.#local.delete(subscription.id)),
      ...(subscription.lastEventId !== undefined ? { lastEventId: subscription.lastEventId } : {}),
    });
  }

  #ownTransport(): Transport {
    this.#transport ??= this.#lead();
    return this.#transport;
  }

  #elected(): void {
    if (this.#closed) return;
    this.#role = 'leader';
    this.#leader = this.#me;
    this.#leaderHidden = false;
    const transport = this.#lead();
    this.#transport = transport;
    this.#term = new AbortController();
    this.#relay = new LeaderRelay(transport, this.#me, (tab, message) => this.#postTab(tab, message));
    for (const subscription of this.#local.values()) this.#carryHere(subscription, transport);
    this.#stateWatch = this.#runtime.connectionState.subscribe({
      next: (state) => this.#postShared({ v: TAB_PROTOCOL, t: 'state', from: this.#me, state: stateData(state) }),
    });
    this.#postShared({
      v: TAB_PROTOCOL,
      t: 'leader',
      from: this.#me,
      state: stateData(this.#runtime.connectionState.get()),
    });
    this.#watchVisibility();
  }

  #deposed(): void {
    this.#role = this.#closed ? this.#role : 'follower';
    this.#leader = null;
    this.#relay?.close();
    this.#relay = null;
    this.#term?.abort();
    this.#term = null;
    this.#watched.clear();
    this.#stateWatch?.unsubscribe();
    this.#stateWatch = null;
    for (const outbox of this.#outboxes.values()) outbox.close();
    this.#outboxes.clear();
    clearTimeout(this.#hiddenTimer);
    // Its subscriptions move to the next leader: this transport's emissions are dropped from here.
    for (const subscription of this.#local.values()) subscription.move();
    const transport = this.#transport;
    this.#transport = null;
    transport?.close();
    // Ask who leads now: only the tab holding the lock answers. (A `leader` message seen while
    // this tab still led may come from a tab that has since been replaced too.)
    if (!this.#closed && !this.#suspended) this.#postShared({ v: TAB_PROTOCOL, t: 'hello', from: this.#me });
  }

  #onShared(message: SharedMessage): void {
    if (this.#closed || this.#suspended || message?.v !== TAB_PROTOCOL || message.from === this.#me) return;
    switch (message.t) {
      case 'hello':
        if (this.#role === 'leader') {
          this.#postShared({
            v: TAB_PROTOCOL,
            t: 'leader',
            from: this.#me,
            state: stateData(this.#runtime.connectionState.get()),
          });
        }
        return;
      case 'leader':
        // Still leading here means the lock was taken from us: `deposed` follows and asks again.
        if (this.#role !== 'follower') return;
        this.#leaderHidden = false;
        if (this.#leader === message.from) return;
        this.#leader = message.from;
        this.#mirrorState(message.state);
        for (const subscription of this.#local.values()) this.#carry(subscription);
        return;
      case 'state':
        if (this.#role === 'follower' && message.from === this.#leader) this.#mirrorState(message.state);
        return;
      case 'hidden':
        if (message.from !== this.#leader) return;
        this.#leaderHidden = true;
        this.#takeOverIfVisible();
        return;
      case 'sub':
        if (message.to !== this.#me) return;
        if (!this.#relay) {
          // Sent here by a tab that believes this one leads: it no longer does (or never did).
          this.#postShared({ v: TAB_PROTOCOL, t: 'notLeader', from: this.#me, to: message.from });
          return;
        }
        if (!this.#watched.has(message.from) && this.#term) {
          const tab = message.from;
          this.#watched.add(tab);
          whenFreed(this.#env.locks, aliveLockName(this.#scope!, tab), this.#term.signal, () => this.#dropTab(tab));
        }
        this.#relay.subscribe(message);
        return;
      case 'notLeader':
        if (message.to !== this.#me || message.from !== this.#leader || this.#role !== 'follower') return;
        this.#leader = null;
        this.#postShared({ v: TAB_PROTOCOL, t: 'hello', from: this.#me });
        return;
      case 'unsub':
        if (message.to === this.#me) this.#relay?.unsubscribe(message.from, message.id);
        return;
      case 'bye':
        this.#dropTab(message.from);
        return;
    }
  }

  #onTab(message: TabMessage): void {
    if (this.#closed || message?.v !== TAB_PROTOCOL || message.from !== this.#leader || this.#role !== 'follower')
      return;
    const subscription = this.#local.get(message.id);
    if (!subscription) return;
    switch (message.t) {
      case 'ev':
        subscription.relayed(message.envelope);
        return;
      case 'end':
        this.#local.delete(message.id);
        subscription.finish(message.error ? errorFromData(message.error) : null);
        return;
      case 'reset':
        subscription.lastEventId = message.lastEventId ?? undefined;
        this.#runtime.notifyReset({
          op: subscription.request.op,
          reason: message.reason,
          lastEventId: message.lastEventId,
        });
        return;
    }
  }

  #dropTab(tab: string): void {
    this.#watched.delete(tab);
    this.#relay?.dropTab(tab);
    this.#outboxes.get(tab)?.close();
    this.#outboxes.delete(tab);
  }

  #mirrorState(state: {
    state: 'idle' | 'connecting' | 'pending';
    error: { message: string; shape?: unknown } | null;
  }): void {
    const error = state.error ? errorFromData(state.error) : null;
    if (state.state === 'connecting') {
      this.#runtime.setConnectionState({ type: 'state', state: 'connecting', error });
      if (error) this.#runtime.notifyError(error);
    } else {
      this.#runtime.setConnectionState({ type: 'state', state: state.state, error: null });
    }
  }

  #postShared(message: SharedMessage): void {
    try {
      this.#shared?.postMessage(message);
    } catch (cause) {
      // A value that cannot be cloned (the app's input): that subscription fails alone.
      if (message.t === 'sub') this.#local.get(message.id)?.fail(toClientError(cause));
      else reportUserError('a message to other tabs', cause);
    }
  }

  #postTab(tab: string, message: TabMessage): void {
    let outbox = this.#outboxes.get(tab);
    if (!outbox) this.#outboxes.set(tab, (outbox = new this.#env.BroadcastChannel(tabChannelName(this.#scope!, tab))));
    try {
      outbox.postMessage(message);
    } catch (cause) {
      reportUserError('a message to another tab', cause);
    }
  }

  readonly #onPageHide = (): void => {
    // Into the back/forward cache, or unloading: hand the stream over now rather than when the
    // browser frees the locks, and hold none while frozen.
    if (this.#closed || this.#suspended) return;
    this.#suspended = true;
    this.#leave();
  };

  readonly #onPageShow = (event: Event): void => {
    if (this.#closed || !this.#suspended || !(event as PageTransitionEvent).persisted) return;
    this.#suspended = false;
    this.#role = 'follower';
    for (const subscription of this.#local.values()) subscription.move();
    void this.#enter();
  };

  readonly #onVisibility = (): void => {
    if (this.#closed) return;
    this.#watchVisibility();
    this.#takeOverIfVisible();
  };

  /** Leading while hidden: after `hiddenLeaderMs`, ask a visible tab to take over. */
  #watchVisibility(): void {
    clearTimeout(this.#hiddenTimer);
    if (this.#role !== 'leader' || this.#env.document?.visibilityState !== 'hidden') return;
    this.#hiddenTimer = setTimeout(() => {
      if (this.#role === 'leader' && this.#env.document?.visibilityState === 'hidden') {
        this.#postShared({ v: TAB_PROTOCOL, t: 'hidden', from: this.#me });
      }
    }, this.#options.hiddenLeaderMs ?? 5_000);
  }

  #takeOverIfVisible(): void {
    if (this.#role !== 'follower' || !this.#leaderHidden || this.#env.document?.visibilityState !== 'visible') return;
    this.#leaderHidden = false;
    const hidden = this.#leader;
    // One visible tab takes over, not every one that heard the leader is hidden.
    ifFirst(this.#env.locks, takeoverLockName(this.#scope!), async () => {
      if (this.#role !== 'follower' || this.#leader !== hidden || this.#closed) return;
      this.#leadership?.stand(true);
      await this.#leadership?.untilLeading();
    });
  }
}

/**
 * What `createSSEClient`'s `share` option takes: made by {@link tabSharing}, so only an app
 * that shares tabs has this code in its bundle.
 */
export type TabSharing = (
  runtime: ClientRuntime,
  lead: () => Transport,
) => { transport: Transport; role: () => TabRole };

/**
 * One stream per browser instead of one per tab, for `createSSEClient({ share: tabSharing() })`:
 * the tabs of one origin and scope elect a leader (Web Locks) whose stream carries every tab's
 * subscriptions (BroadcastChannel), and hand it over without loss when the leader goes. Where
 * the browser lacks what this needs (or the page is not a secure context), each tab keeps its
 * own stream. See README "One stream per browser".
 */
export function tabSharing(options: TabShareOptions = {}): TabSharing {
  return (runtime, lead) => {
    const env = browserTabEnvironment();
    if (!env) return { transport: lead(), role: () => 'unshared' };
    const transport = new TabSharedTransport(runtime, env, options, lead);
    return { transport, role: () => transport.role };
  };
}
