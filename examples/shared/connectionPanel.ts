/**
 * The connection panel: what the page's one connection carries, from both ends. The server's
 * side comes from a subscription on that same connection (`connection.stats`).
 */
import type { TRPCClient } from '@trpc/client';
import { el } from './dom.js';
import type { PageClient, SharedRouter } from './pageClient.js';

const STATE_LABEL: Record<string, string> = { idle: 'idle', connecting: 'connecting', pending: 'connected' };

function stat(id: string, label: string, title: string): HTMLElement {
  return el('div', { class: 'stat', title }, el('b', { id }, '–'), el('span', {}, label));
}

export function mountConnectionPanel(root: HTMLElement, client: PageClient, trpc: TRPCClient<SharedRouter>): void {
  const state = el('span', { id: 'state', class: 'badge', 'data-state': 'idle' }, 'idle');
  const mode = el('span', { id: 'mode', class: 'muted' }, '');
  const dropButton = el(
    'button',
    { id: 'drop', type: 'button', title: 'The server ends every stream; each page resumes where it was' },
    'Drop connections',
  );
  const panel = el(
    'section',
    { class: 'card panel', id: 'connection' },
    el('h2', {}, 'Connection ', state, ' ', mode),
    el(
      'div',
      { class: 'stats' },
      stat('server-streams', 'streams open at the server', 'Event streams the server holds now, for every page'),
      stat('server-subscriptions', 'subscriptions', 'Subscription procedures running on the server now'),
      stat('server-resumes', 'resumes', 'Resumes that lost nothing: from the replay buffer or the event log'),
      stat('server-resets', 'resets at the server', 'Subscriptions whose position was lost: their pages refetched'),
      stat('server-bytes', 'bytes/s sent', 'Bytes the server wrote to every stream, per second'),
      stat('page-streams', 'streams this page opened', 'One, plus one per reconnect'),
      stat('page-resets', 'resets', 'Subscriptions the server could not resume: the page refetched'),
    ),
    el(
      'div',
      { class: 'row' },
      dropButton,
      el('span', { class: 'muted small' }, `Signed in as `, el('b', { id: 'user' }, client.session().user)),
    ),
  );
  root.append(panel);

  client.sse.connectionState.subscribe({
    next(value) {
      state.textContent = STATE_LABEL[value.state] ?? value.state;
      state.dataset['state'] = value.state;
      mode.textContent = client.sse.mode === 'auto' ? '' : `· ${client.sse.mode}`;
    },
  });
  const showCounters = (): void => {
    panel.querySelector('#page-streams')!.textContent = String(client.counters.streamsOpened);
    panel.querySelector('#page-resets')!.textContent = String(client.counters.resets);
  };
  client.counters.addEventListener('change', showCounters);
  showCounters();
  let previous: { bytes: number; at: number } | null = null;
  trpc.connection.stats.subscribe(undefined, {
    onData(stats) {
      panel.querySelector('#server-streams')!.textContent = String(stats.streams);
      panel.querySelector('#server-subscriptions')!.textContent = String(stats.subscriptions);
      panel.querySelector('#server-resumes')!.textContent = String(stats.resumes);
      panel.querySelector('#server-resets')!.textContent = String(stats.resets);
      const now = performance.now();
      if (previous && now > previous.at) {
        const rate = ((stats.bytesSent - previous.bytes) * 1000) / (now - previous.at);
        panel.querySelector('#server-bytes')!.textContent = String(Math.round(rate));
      }
      previous = { bytes: stats.bytesSent, at: now };
    },
  });
  dropButton.addEventListener('click', () => void fetch('/drop-connections', { method: 'POST' }));
}
