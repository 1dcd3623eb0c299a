/**
 * Notifications per user: the store is the app's database (what a page fetches, and what
 * survives a restart of the server); each user's topic on the event log carries the changes
 * to that user's open pages.
 */
import type { EventLog } from 'trpc-sse/server';

export interface Notification {
  /** Per user, counting up from 1. */
  n: number;
  from: string;
  text: string;
  at: string;
}

/** What a user's topic carries: a new notification, or "read up to here". */
export type NotificationEvent = { kind: 'new'; notification: Notification } | { kind: 'read'; upTo: number };

export interface Inbox {
  items: Notification[];
  /** Notifications numbered up to this one are read. */
  readUpTo: number;
}

const KEPT = 100;

/** The notifications of every user, in memory (pass the same store to a restarted server to keep them). */
export class NotificationStore {
  readonly #inboxes = new Map<string, Inbox>();

  inbox(user: string): Inbox {
    let inbox = this.#inboxes.get(user);
    if (!inbox) this.#inboxes.set(user, (inbox = { items: [], readUpTo: 0 }));
    return inbox;
  }

  add(user: string, from: string, text: string): Notification {
    const inbox = this.inbox(user);
    const notification = { n: (inbox.items.at(-1)?.n ?? 0) + 1, from, text, at: new Date().toISOString() };
    inbox.items.push(notification);
    if (inbox.items.length > KEPT) inbox.items.shift();
    return notification;
  }

  markRead(user: string): number {
    const inbox = this.inbox(user);
    inbox.readUpTo = inbox.items.at(-1)?.n ?? inbox.readUpTo;
    return inbox.readUpTo;
  }
}

export const topicOf = (user: string): string => `notifications:${user}`;

/** Stores, then publishes: a page that fetches after this has it either way. */
export class Notifier {
  constructor(
    readonly store: NotificationStore,
    readonly log: EventLog,
  ) {}

  async notify(to: string, from: string, text: string): Promise<Notification> {
    const notification = this.store.add(to, from, text);
    await this.log.publish<NotificationEvent>(topicOf(to), { kind: 'new', notification });
    return notification;
  }

  async markRead(user: string): Promise<void> {
    const upTo = this.store.markRead(user);
    await this.log.publish<NotificationEvent>(topicOf(user), { kind: 'read', upTo });
  }
}
