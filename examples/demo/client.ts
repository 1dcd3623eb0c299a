/** The demo page: a live feed and a job's progress bar, all subscriptions over sseLink. */
import { createTRPCClient, httpBatchLink, splitLink } from '@trpc/client';
import { createSSEClient, sseLink } from 'trpc-sse/client';
import type { DemoRouter, FeedItem } from './router.js';

const endpoint = `${location.origin}/trpc`;
const sse = createSSEClient({ url: endpoint, retry: { minDelayMs: 300, maxDelayMs: 5000 } });
const trpc = createTRPCClient<DemoRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === 'subscription',
      true: sseLink({ client: sse }),
      false: httpBatchLink({ url: endpoint }),
    }),
  ],
});

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

sse.connectionState.subscribe({
  next(state) {
    const badge = $('state');
    // tRPC calls an open connection waiting for data 'pending'.
    const label = state.state === 'pending' ? 'connected' : state.state;
    badge.textContent = label + (state.error ? ` (${state.error.message})` : '');
    badge.dataset['state'] = state.state;
  },
});

const seen = new Set<number>();
let firstId = Infinity;
let lastId = -Infinity;
trpc.feed.subscribe(undefined, {
  onData({ data }: { id: string; data: FeedItem }) {
    if (seen.has(data.id)) $('duplicates').textContent = String(Number($('duplicates').textContent) + 1);
    seen.add(data.id);
    const li = document.createElement('li');
    li.innerHTML = `<time></time> <span></span>`;
    li.querySelector('time')!.textContent = new Date(data.at).toLocaleTimeString();
    li.querySelector('span')!.textContent = `#${data.id} ${data.text}`;
    $('feed').prepend(li);
    while ($('feed').children.length > 50) $('feed').lastElementChild!.remove();
    $('received').textContent = String(seen.size);
    // Ids are consecutive: any gap between the first and the latest is an event lost.
    firstId = Math.min(firstId, data.id);
    lastId = Math.max(lastId, data.id);
    $('missing').textContent = String(lastId - firstId + 1 - seen.size);
  },
  onError(error) {
    $('state').textContent = `error: ${error.message}`;
  },
});

$<HTMLFormElement>('post').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>('text');
  if (input.value.trim()) void trpc.post.mutate({ text: input.value.trim() });
  input.value = '';
});

$('drop').addEventListener('click', () => void fetch('/drop-connections', { method: 'POST' }));

$('start').addEventListener('click', async () => {
  const { jobId } = await trpc.startJob.mutate({ seconds: 8 });
  const bar = $<HTMLProgressElement>('progress');
  $('job').textContent = `job ${jobId}`;
  trpc.job.subscribe(
    { jobId },
    {
      onData(progress) {
        bar.value = progress.percent;
        $('job').textContent = progress.done ? `job ${jobId}: done` : `job ${jobId}: ${progress.percent}%`;
      },
      onError(error) {
        $('job').textContent = `job ${jobId}: ${error.message}`;
      },
    },
  );
});
