/**
 * The activity feed on a page: the latest items, live. New items wait behind an "N new" button
 * while the reader is scrolled down, so the list never moves under them. After a reset (the
 * server could not resume the feed, e.g. it restarted with a fresh memory log) the page says
 * so and fetches the feed again.
 */
import type { TRPCClient } from '@trpc/client';
import { card, el } from '../shared/dom.js';
import type { FeedItem } from './feed.js';
import type { FeedRouter } from './router.js';

const SHOWN = 100;

export function mountActivityFeed(root: HTMLElement, trpc: TRPCClient<FeedRouter>): void {
  const list = el('ul', { id: 'feed', class: 'feed' });
  const newButton = el('button', { id: 'feed-new', type: 'button', class: 'pill', hidden: '' }, '');
  const notice = el('p', { id: 'feed-notice', class: 'notice', hidden: '' });
  const counts = el('p', { class: 'muted small' });
  const input = el('input', {
    id: 'feed-text',
    placeholder: 'Say something',
    maxlength: '200',
    'aria-label': 'Post to the feed',
  });
  const form = el('form', { id: 'feed-post', class: 'row' }, input, el('button', {}, 'Post'));
  root.append(card('Activity feed', 'activity-feed', counts, form, notice, newButton, list));

  /** Every item received or fetched since the last reset, by number. */
  let seen = new Set<number>();
  /** Items the subscription delivered: one delivered twice is a duplicate. */
  let delivered = new Set<number>();
  let duplicates = 0;
  let resets = 0;
  /** Items waiting behind the "N new" button, oldest first. */
  let waiting: FeedItem[] = [];

  const showCounts = (): void => {
    const numbers = [...seen];
    const missing = numbers.length ? Math.max(...numbers) - Math.min(...numbers) + 1 - numbers.length : 0;
    counts.innerHTML = '';
    counts.append(
      'received ',
      el('b', { id: 'feed-received' }, String(seen.size)),
      ' · missing ',
      el('b', { id: 'feed-missing' }, String(missing)),
      ' · duplicates ',
      el('b', { id: 'feed-duplicates' }, String(duplicates)),
      ' · resets ',
      el('b', { id: 'feed-resets' }, String(resets)),
    );
  };

  const render = (item: FeedItem): void => {
    // Newest first; an item fetched after newer live ones goes to its place.
    const row = el(
      'li',
      { 'data-n': String(item.n) },
      el('time', {}, new Date(item.at).toLocaleTimeString()),
      ` #${item.n} ${item.text}`,
    );
    const after = [...list.children].find((li) => Number((li as HTMLElement).dataset['n']) < item.n);
    list.insertBefore(row, after ?? null);
    while (list.children.length > SHOWN) list.lastElementChild!.remove();
  };

  const add = (item: FeedItem, live: boolean): void => {
    if (live) {
      if (delivered.has(item.n)) duplicates++;
      delivered.add(item.n);
    }
    // Fetched and delivered both: expected around a (re)fetch, and shown once.
    if (seen.has(item.n)) return showCounts();
    seen.add(item.n);
    if (live && list.scrollTop > 0) {
      waiting.push(item);
      newButton.textContent = `${waiting.length} new`;
      newButton.hidden = false;
    } else {
      render(item);
    }
    showCounts();
  };

  newButton.addEventListener('click', () => {
    for (const item of waiting) render(item);
    waiting = [];
    newButton.hidden = true;
    list.scrollTop = 0;
  });

  const fetchRecent = async (): Promise<void> => {
    for (const item of await trpc.feed.recent.query()) add(item, false);
  };

  // Subscribe first, then fetch: whatever is posted in between arrives at least one way.
  trpc.feed.onItem.subscribe(undefined, {
    onData: ({ data }) => add(data, true),
    onError: (error) => {
      notice.textContent = `Feed stopped: ${error.message}`;
      notice.hidden = false;
    },
    context: {
      onReset: () => {
        resets++;
        seen = new Set();
        delivered = new Set();
        duplicates = 0;
        waiting = [];
        newButton.hidden = true;
        list.innerHTML = '';
        notice.textContent = 'The server could not resume the feed (it restarted): reloaded it.';
        notice.hidden = false;
        showCounts();
        void fetchRecent();
      },
    },
  });
  void fetchRecent();
  showCounts();

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (text) void trpc.feed.post.mutate({ text });
    input.value = '';
  });
}
