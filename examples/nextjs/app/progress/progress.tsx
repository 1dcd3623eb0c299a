'use client';
import { createTRPCClient, type TRPCClient } from '@trpc/client';
import { useEffect, useState } from 'react';
import { createSSEClient, sseLink } from 'trpc-sse/client';
import type { ProgressRouter, ProgressStep } from '../../server/progress';

type RunState = 'ready' | 'running' | 'reconnecting' | 'done' | 'failed';

const STATE_LABEL: Record<RunState, string> = {
  ready: 'ready',
  running: 'running',
  reconnecting: 'reconnecting…',
  done: 'done',
  failed: 'failed',
};

interface Run {
  /** Counts the runs: a new number starts the job again. */
  number: number;
  state: RunState;
  /** Every step received, in order of arrival: a repeat would show twice, a gap as a missing number. */
  steps: ProgressStep[];
  error: string | null;
}

const NOT_STARTED: Run = { number: 0, state: 'ready', steps: [], error: null };

/**
 * The progress route's client. A relative URL: it is created while the page renders on the
 * server too, where nothing subscribes and so nothing resolves it. One event stream per run,
 * as the route serves it (`mode: 'distinct'`): the job is this page's alone, and a dropped
 * stream resumes by itself with `Last-Event-ID`. Nothing to close on unmount: the client
 * holds a connection only while a subscription is open.
 */
function createProgressClient(): TRPCClient<ProgressRouter> {
  return createTRPCClient<ProgressRouter>({
    links: [sseLink({ client: createSSEClient({ url: '/api/stream', mode: 'distinct' }) })],
  });
}

export function Progress() {
  const [trpc] = useState(createProgressClient);
  const [run, setRun] = useState<Run>(NOT_STARTED);

  useEffect(() => {
    if (run.number === 0) return;
    const update = (change: Partial<Run>) => setRun((current) => ({ ...current, ...change }));
    const subscription = trpc.progress.subscribe(undefined, {
      onStarted: () => update({ state: 'running', error: null }),
      // A tracked event arrives as `{ id, data }`; sseLink keeps the id to resume from.
      onData: ({ data }) => setRun((current) => ({ ...current, steps: [...current.steps, data] })),
      // The stream breaking, and coming back, shows here before the next step does.
      onConnectionStateChange: ({ state, error }) => {
        if (state === 'connecting' && error) update({ state: 'reconnecting', error: error.message });
        if (state === 'pending') update({ state: 'running', error: null });
      },
      onError: (error) => update({ state: 'failed', error: error.message }),
      onComplete: () => update({ state: 'done' }),
    });
    return () => subscription.unsubscribe();
  }, [run.number, trpc]);

  const last = run.steps.at(-1);
  const percent = last ? Math.round((last.step / last.of) * 100) : 0;
  const busy = run.state === 'running' || run.state === 'reconnecting';
  return (
    <section>
      <h2>
        Export <small id="progress-state">{STATE_LABEL[run.state]}</small>
      </h2>
      <p>
        <button
          id="progress-start"
          type="button"
          disabled={busy}
          onClick={() => setRun((current) => ({ ...NOT_STARTED, number: current.number + 1, state: 'running' }))}
        >
          {run.number === 0 ? 'Start' : 'Start again'}
        </button>
      </p>
      <p className="progress">
        <progress id="progress-bar" max={100} value={percent} aria-label="Export progress" />{' '}
        <b id="progress-percent">{percent} %</b>
      </p>
      {run.error && run.state !== 'done' ? <p className="error">{run.error}</p> : null}
      <ol id="progress-steps">
        {run.steps.map((step, i) => (
          // Keyed by arrival: a repeated step still gets a row of its own.
          <li key={i}>{step.label}</li>
        ))}
      </ol>
    </section>
  );
}
