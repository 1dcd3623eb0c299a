/**
 * Notifications on a page: a toast for each new one, an unread count, the inbox, and a token
 * that can be refreshed. The count stays right across a dropped connection (the log replays
 * what was missed), a server restart (a reset: the page fetches the inbox again) and a token
 * refresh (the next connection signs in with the new token).
 */
import type { TRPCClient } from '@trpc/client';
import { card, el } from '../shared/dom.js';
import type { PageClient, SharedRouter } from '../shared/pageClient.js';
import type { Inbox, Notification } from './store.js';
import type { NotificationsRouter } from './router.js';

export function mountNotifications(
  root: HTMLElement,
  client: PageClient,
  trpc: TRPCClient<NotificationsRouter> & TRPCClient<SharedRouter>,
): void {
  const me = client.session().user;
  const unread = el('span', { id: 'unread', class: 'unread', 'data-count': '0', title: 'Unread' }, '0');
  const list = el('ul', { id: 'inbox', class: 'list' });
  const notice = el('p', { id: 'inbox-notice', class: 'notice', hidden: '' });
  const to = el('input', { id: 'notify-to', value: me, 'aria-label': 'To', placeholder: 'To' });
  const text = el('input', { id: 'notify-text', 'aria-label': 'Message', placeholder: 'Message', maxlength: '200' });
  const form = el('form', { id: 'notify', class: 'row' }, to, text, el('button', {}, 'Send'));
  const markRead = el('button', { id: 'mark-read', type: 'button' }, 'Mark all read');
  const refresh = el(
    'button',
    { id: 'refresh-token', type: 'button', title: 'A new token; the next connection uses it' },
    'Refresh token',
  );
  const tokens = el(
    'span',
    { class: 'muted small' },
    'page token #',
    el('b', { id: 'page-token' }, String(client.session().tokenNo)),
    ' · connection signed in with #',
    el('b', { id: 'connection-token' }, '…'),
  );
  const toasts = el('div', { class: 'toasts', id: 'toasts', 'aria-live': 'polite' });
  root.append(
    card(
      `Notifications for ${me}`,
      'notifications',
      el('div', { class: 'row' }, unread, markRead, refresh),
      el('div', { class: 'row' }, tokens),
      form,
      notice,
      list,
    ),
  );
  document.body.append(toasts);

  let items = new Map<number, Notification>();
  let readUpTo = 0;

  const render = (): void => {
    const count = [...items.keys()].filter((n) => n > readUpTo).length;
    unread.textContent = String(count);
    unread.dataset['count'] = String(count);
    list.replaceChildren(
      ...[...items.values()]
        .sort((a, b) => b.n - a.n)
        .map((item) =>
          el(
            'li',
            { 'data-n': String(item.n), class: item.n > readUpTo ? 'is-unread' : '' },
            el('time', {}, new Date(item.at).toLocaleTimeString()),
            `${item.from}: ${item.text}`,
          ),
        ),
    );
  };

  const toast = (item: Notification): void => {
    const node = el('div', { class: 'toast' }, `${item.from}: ${item.text}`);
    toasts.append(node);
    setTimeout(() => node.remove(), 6_000);
    while (toasts.children.length > 4) toasts.firstElementChild!.remove();
  };

  const merge = (inbox: Inbox): void => {
    for (const item of inbox.items) items.set(item.n, item);
    readUpTo = Math.max(readUpTo, inbox.readUpTo);
    render();
  };
  const fetchInbox = async (): Promise<void> => merge(await trpc.notifications.inbox.query());

  // Subscribe first, then fetch: anything sent in between arrives at least one way.
  trpc.notifications.onEvent.subscribe(undefined, {
    onData: ({ data }) => {
      if (data.kind === 'read') readUpTo = Math.max(readUpTo, data.upTo);
      else {
        if (!items.has(data.notification.n)) toast(data.notification);
        items.set(data.notification.n, data.notification);
      }
      render();
    },
    onError: (error) => {
      notice.textContent = `Notifications stopped: ${error.message}`;
      notice.hidden = false;
    },
    context: {
      onReset: () => {
        // What happened while the server could not tell us is unknown: start again from the inbox.
        items = new Map();
        readUpTo = 0;
        notice.textContent = 'Could not resume (the server restarted): inbox reloaded.';
        notice.hidden = false;
        void fetchInbox();
      },
    },
  });
  void fetchInbox();

  trpc.auth.connectionSession.subscribe(undefined, {
    onData: (session) => {
      tokens.querySelector('#connection-token')!.textContent = String(session.tokenNo);
    },
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!to.value.trim() || !text.value.trim()) return;
    void trpc.notifications.send.mutate({ to: to.value, text: text.value });
    text.value = '';
  });
  markRead.addEventListener('click', () => void trpc.notifications.markAllRead.mutate());
  refresh.addEventListener('click', () => {
    client.refreshToken().then(
      (session) => {
        tokens.querySelector('#page-token')!.textContent = String(session.tokenNo);
      },
      (error: unknown) => {
        notice.textContent = `Could not refresh the token: ${error instanceof Error ? error.message : String(error)}`;
        notice.hidden = false;
      },
    );
  });
}
