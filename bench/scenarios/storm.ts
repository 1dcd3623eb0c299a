/**
 * 5. Reconnect storm: `n` clients on the tracked counter; the server process is SIGKILLed and
 * a new one is started on the same port. Measured: how long until every client has an event
 * from the new process, and how many counter values any client missed (must be 0) or got twice.
 */
import type { Config } from '../config.js';
import type { Child } from '../lib/child.js';
import { nowUs, sleep } from '../lib/clock.js';
import type { TransportInfo } from '../transports/registry.js';
import { startClientChild, startServerChild, type CaseError } from './pair.js';

interface Status {
  n: number;
  withData: number;
  resumed: number;
  minLastSeq: number;
}

/** Polls the client until `done(status)` or the time limit; returns the last status. */
async function pollUntil(client: Child, done: (s: Status) => boolean, timeoutMs: number): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  let status = await client.call<Status>('stormStatus');
  while (!done(status) && Date.now() < deadline) {
    await sleep(50);
    status = await client.call<Status>('stormStatus');
  }
  return status;
}

export async function runStorm(t: TransportInfo, cfg: Config): Promise<object | CaseError> {
  const n = cfg.stormClients;
  const counterEnv = { BENCH_COUNTER_T0: Date.now(), BENCH_COUNTER_PERIOD_MS: cfg.stormPeriodMs };
  const children: Child[] = [];
  let client: Child | undefined;
  try {
    const first = await startServerChild(t, { ...counterEnv, BENCH_GENERATION: 1 });
    children.push(first.child);
    client = startClientChild(t, first.port);
    await client.ready;
    const opened = await client.call<{ started: number; openMs: number }>(
      'stormOpen',
      { n, batch: 100, timeoutMs: 120_000 },
      150_000,
    );
    if (opened.started < n)
      throw new Error(`only ${opened.started}/${n} subscriptions started: ${JSON.stringify(opened)}`);
    const before = await pollUntil(client, (s) => s.withData === n, 30_000);
    if (before.withData < n) throw new Error(`only ${before.withData}/${n} subscribers got an event before the crash`);
    await sleep(cfg.settleMs);

    const killedAtUs = nowUs();
    await first.child.crash();
    const second = await startServerChild(t, { ...counterEnv, BENCH_GENERATION: 2, BENCH_PORT: first.port });
    children.push(second.child);
    const serverDownMs = (nowUs() - killedAtUs) / 1e3;

    const after = await pollUntil(client, (s) => s.resumed === n, cfg.stormResumeTimeoutMs);
    const allResumedMs = after.resumed === n ? (nowUs() - killedAtUs) / 1e3 : NaN;
    // Every value up to the head exists now: wait (bounded) until every subscriber has it.
    const { head: target } = await second.child.call<{ head: number }>('counter');
    await pollUntil(client, (s) => s.minLastSeq >= target, 15_000);
    const report = await client.call<object>('stormReport', { killedAtUs, target });
    // Proof that the resume path ran: the new server saw resume ids and replayed what was missed.
    const { resumes, replayed } = await second.child.call<{ resumes: number; replayed: number }>('counter');
    const diagnostics = t.server === 'trpc-sse' ? await client.call<object>('diagnostics') : {};
    await client.call('stormClose');
    return {
      openMs: opened.openMs,
      serverDownMs,
      allResumedMs,
      ...report,
      serverResumes: resumes,
      serverReplayed: replayed,
      ...diagnostics,
    };
  } catch (error) {
    const stderr = [client, ...children]
      .map((c) => c?.stderrTail())
      .filter(Boolean)
      .join('\n')
      .slice(-1500);
    return {
      error: (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300),
      ...(stderr ? { stderr } : {}),
    };
  } finally {
    // The client first, so it does not reconnect to a server that is going away.
    await client?.stop();
    for (const child of children) await child.stop();
  }
}
