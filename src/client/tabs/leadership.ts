/**
 * Leader election among the tabs of one browser through Web Locks: the tab holding the
 * scope's lock leads. Every other tab's request waits in the lock's queue, so when the leader
 * goes (closed, crashed, discarded: the browser frees its locks), the next tab is granted it
 * at once, without polling or timeouts. A visible tab may take the lock from a hidden leader
 * (`steal`), whose request then rejects: that is how a leader learns it was replaced.
 */

/** The part of `navigator.locks` used here. */
export interface LockManagerLike {
  request(
    name: string,
    options: { mode?: 'exclusive'; signal?: AbortSignal; steal?: boolean; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<void>,
  ): Promise<void>;
}

export interface LeadershipEvents {
  /** This tab now leads. */
  elected(): void;
  /** This tab no longer leads (it released the lock, or another tab took it). */
  deposed(): void;
}

/** A tab's candidacy for one scope's leadership. */
export class Leadership {
  readonly #locks: LockManagerLike;
  readonly #name: string;
  readonly #events: LeadershipEvents;
  /** Cancels the waiting request, or ends the term of the one granted. */
  #term: AbortController | null = null;
  #release: (() => void) | null = null;
  #leading = false;
  /** Called on every change of `leading` or of the current bid. */
  #waiters: Array<() => void> = [];

  constructor(locks: LockManagerLike, name: string, events: LeadershipEvents) {
    this.#locks = locks;
    this.#name = name;
    this.#events = events;
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** Stands for election: waits in the lock's queue (or takes the lock from its holder, `steal`). */
  stand(steal = false): void {
    if (this.#leading) return;
    this.#withdraw();
    const term = new AbortController();
    this.#term = term;
    const options = steal ? { steal: true } : { signal: term.signal };
    this.#locks
      .request(this.#name, options, (lock) => {
        if (term.signal.aborted || lock === null) return Promise.resolve();
        return new Promise<void>((release) => {
          this.#release = release;
          this.#leading = true;
          this.#events.elected();
          this.#wake();
        });
      })
      .then(
        () => this.#ended(term),
        // Aborted while waiting (withdrawn), or the lock was taken by a visible tab.
        () => this.#ended(term),
      );
  }

  /** Settles once this tab leads, or its bid ended without (stolen at once, withdrawn). */
  untilLeading(): Promise<void> {
    if (this.#leading || !this.#term) return Promise.resolve();
    const term = this.#term;
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.#leading || this.#term !== term) resolve();
        else this.#waiters.push(check);
      };
      check();
    });
  }

  /** Leaves the election: releases the lock if held, cancels the request if waiting. */
  withdraw(): void {
    this.#withdraw();
  }

  #withdraw(): void {
    const term = this.#term;
    this.#term = null;
    term?.abort();
    const release = this.#release;
    this.#release = null;
    if (this.#leading) {
      this.#leading = false;
      this.#events.deposed();
    }
    release?.();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }

  #ended(term: AbortController): void {
    this.#wake();
    if (this.#term !== term) return;
    // The lock went without our asking (stolen): stand again, behind the others.
    this.#term = null;
    this.#release = null;
    if (this.#leading) {
      this.#leading = false;
      this.#events.deposed();
    }
    this.stand();
    this.#wake();
  }
}

/**
 * Holds a lock for as long as the tab lives (until `release`): the leader waits on it to learn
 * that a follower has gone, however it went. `granted` settles once the lock is held, so no
 * leader can look for it before it exists.
 */
export function holdWhileAlive(locks: LockManagerLike, name: string): { granted: Promise<void>; release: () => void } {
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let granted: () => void = () => undefined;
  const grantedPromise = new Promise<void>((resolve) => (granted = resolve));
  locks
    .request(name, {}, () => {
      granted();
      return held;
    })
    .catch(() => granted());
  return { granted: grantedPromise, release: () => release() };
}

/** Runs `gone` once the lock `name` is free: its holder released it or its tab is gone. `signal` stops watching. */
export function whenFreed(locks: LockManagerLike, name: string, signal: AbortSignal, gone: () => void): void {
  void locks
    .request(name, { signal }, () => {
      if (!signal.aborted) gone();
      return Promise.resolve();
    })
    .catch(() => undefined);
}

/**
 * Runs `act` only if the lock `name` is free, holding it until `act`'s promise settles: of
 * several tabs that try at once, one acts.
 */
export function ifFirst(locks: LockManagerLike, name: string, act: () => Promise<void>): void {
  void locks
    .request(name, { ifAvailable: true }, (lock) => (lock === null ? Promise.resolve() : act()))
    .catch(() => undefined);
}
