/**
 * Long jobs that run on the server whether or not anyone watches. Each job is an async
 * generator (its `finally` is where a real job releases what it holds); its progress goes to
 * its own topic on the event log, so a page that drops its connection resumes exactly where
 * it was, and a page that opens later reads the job's state first and follows from there.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventLog } from 'trpc-sse/server';

export type JobEvent =
  | { kind: 'started'; of: number }
  | { kind: 'step'; step: number; of: number; label: string }
  | { kind: 'done' }
  | { kind: 'cancelled'; cleanedUp: boolean };

export interface JobSnapshot {
  jobId: string;
  of: number;
  /** Labels of the steps done, in order. */
  steps: string[];
  state: 'running' | 'done' | 'cancelled';
  /** Whether the job's `finally` has run (it does when the job ends, however it ends). */
  cleanedUp: boolean;
  /** The id of the last event published for this job: follow the job from here. */
  lastEventId: string;
}

const WORK = [
  'fetching sources',
  'resolving dependencies',
  'compiling',
  'running tests',
  'bundling',
  'compressing',
  'uploading',
  'verifying',
];
const KEPT_JOBS = 100;

export const topicOf = (jobId: string): string => `job:${jobId}`;

/** The job itself: one step every `stepMs`, until done or aborted. */
async function* work(of: number, stepMs: number, signal: AbortSignal, job: JobSnapshot): AsyncGenerator<string> {
  try {
    for (let step = 1; step <= of; step++) {
      await sleep(stepMs, undefined, { signal });
      yield `${WORK[(step - 1) % WORK.length]!} (${step}/${of})`;
    }
  } finally {
    // A real job would release a worker, a lock or temporary files here.
    job.cleanedUp = true;
  }
}

export class Jobs {
  readonly #jobs = new Map<string, { snapshot: JobSnapshot; abort: AbortController }>();

  constructor(readonly log: EventLog) {}

  async start(of: number, stepMs: number): Promise<JobSnapshot> {
    const jobId = randomBytes(4).toString('hex');
    const abort = new AbortController();
    const lastEventId = await this.log.publish<JobEvent>(topicOf(jobId), { kind: 'started', of });
    const snapshot: JobSnapshot = { jobId, of, steps: [], state: 'running', cleanedUp: false, lastEventId };
    this.#jobs.set(jobId, { snapshot, abort });
    for (const old of this.#jobs.keys()) {
      if (this.#jobs.size <= KEPT_JOBS) break;
      this.#jobs.get(old)!.abort.abort();
      this.#jobs.delete(old);
    }
    void this.#run(snapshot, stepMs, abort.signal);
    return { ...snapshot };
  }

  get(jobId: string): JobSnapshot | null {
    const job = this.#jobs.get(jobId);
    return job ? { ...job.snapshot, steps: [...job.snapshot.steps] } : null;
  }

  cancel(jobId: string): boolean {
    const job = this.#jobs.get(jobId);
    if (job?.snapshot.state !== 'running') return false;
    job.abort.abort();
    return true;
  }

  /** Stops every job (the server is closing). */
  stopAll(): void {
    for (const job of this.#jobs.values()) job.abort.abort();
  }

  async #run(job: JobSnapshot, stepMs: number, signal: AbortSignal): Promise<void> {
    const publish = async (event: JobEvent): Promise<void> => {
      job.lastEventId = await this.log.publish<JobEvent>(topicOf(job.jobId), event);
    };
    try {
      for await (const label of work(job.of, stepMs, signal, job)) {
        job.steps.push(label);
        await publish({ kind: 'step', step: job.steps.length, of: job.of, label });
      }
      job.state = 'done';
      await publish({ kind: 'done' });
    } catch {
      // Aborted: the generator's `finally` has run by now.
      job.state = 'cancelled';
      await publish({ kind: 'cancelled', cleanedUp: job.cleanedUp }).catch(() => undefined);
    }
  }
}
