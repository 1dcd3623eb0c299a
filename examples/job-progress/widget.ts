/**
 * A long job on a page: start it, watch its progress bar and steps, cancel it. The job runs
 * on the server; the page reads its state first (so a page opened after it finished shows
 * how it ended) and follows its events from there, resuming after a dropped connection.
 * The job's address (`?job=…`) opens it in another tab.
 */
import type { Unsubscribable } from '@trpc/server/observable';
import type { TRPCClient } from '@trpc/client';
import { card, el } from '../shared/dom.js';
import type { JobEvent, JobSnapshot } from './jobs.js';
import type { JobsRouter } from './router.js';

export function mountJobProgress(root: HTMLElement, trpc: TRPCClient<JobsRouter>, opts: { steps?: number } = {}): void {
  const steps = opts.steps ?? 40;
  const start = el('button', { id: 'job-start', type: 'button', class: 'primary' }, `Start a ${steps}-step job`);
  const cancel = el('button', { id: 'job-cancel', type: 'button', disabled: '' }, 'Cancel');
  const bar = el('progress', { id: 'job-bar', max: '100', value: '0' });
  const status = el('p', { id: 'job-status', class: 'small' }, 'No job yet.');
  const link = el('a', { id: 'job-link', class: 'small', target: '_blank', hidden: '' }, 'open this job in a new tab');
  const list = el('ol', { id: 'job-steps', class: 'list steps' });
  root.append(
    card('Progress of a long job', 'job-progress', el('div', { class: 'row' }, start, cancel, link), bar, status, list),
  );

  let current: { jobId: string; subscription: Unsubscribable | undefined } | undefined;

  const show = (job: { jobId: string; of: number; steps: string[]; state: string; note?: string }): void => {
    bar.value = Math.round((job.steps.length / job.of) * 100);
    status.textContent = `Job ${job.jobId}: ${job.state}${job.state === 'running' ? `, ${bar.value}%` : ''}${job.note ?? ''}`;
    cancel.disabled = job.state !== 'running';
  };

  const follow = (snapshot: JobSnapshot): void => {
    current?.subscription?.unsubscribe();
    const job = { ...snapshot, steps: [...snapshot.steps], note: '' };
    current = { jobId: job.jobId, subscription: undefined };
    list.replaceChildren(...job.steps.map((label) => el('li', {}, label)));
    link.setAttribute('href', `?job=${job.jobId}`);
    link.hidden = false;
    show(job);
    if (job.state !== 'running') return;
    const following = current;
    following.subscription = trpc.jobs.onProgress.subscribe(
      { jobId: job.jobId, lastEventId: snapshot.lastEventId },
      {
        onData: ({ data }: { data: JobEvent }) => {
          if (data.kind === 'step') {
            // Steps arrive once each, in order, across reconnects: the list shows it.
            job.steps.push(data.label);
            list.append(el('li', {}, data.label));
            list.scrollTop = list.scrollHeight;
          } else if (data.kind === 'done') {
            job.state = 'done';
            following.subscription?.unsubscribe();
          } else if (data.kind === 'cancelled') {
            job.state = 'cancelled';
            job.note = data.cleanedUp ? ' (its cleanup ran on the server)' : '';
            following.subscription?.unsubscribe();
          }
          show(job);
        },
        onError: (error) => (status.textContent = `Job ${job.jobId}: ${error.message}`),
      },
    );
  };

  const showFailure = (error: unknown): void => {
    status.textContent = error instanceof Error ? error.message : String(error);
  };

  const startJob = async (): Promise<void> => {
    const snapshot = await trpc.jobs.start.mutate({ steps });
    const params = new URLSearchParams(location.search);
    params.set('job', snapshot.jobId);
    history.replaceState(null, '', `?${params}`);
    follow(snapshot);
  };
  start.addEventListener('click', () => void startJob().catch(showFailure));
  cancel.addEventListener('click', () => {
    if (current) void trpc.jobs.cancel.mutate({ jobId: current.jobId });
  });

  const opened = new URLSearchParams(location.search).get('job');
  if (opened) {
    trpc.jobs.get.query({ jobId: opened }).then(follow, showFailure);
  }
}
