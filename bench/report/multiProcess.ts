/** Section 8 of `results/latest.md`: the multi-process case, one row per backend, in two tables. */
import type { Config } from '../config.js';
import type { BackendId } from '../lib/backends.js';
import type { Results } from '../results.js';
import { BACKEND_LABELS, type MultiProcessResult } from '../scenarios/multiProcess.js';
import { fmt } from './format.js';

type Row = MultiProcessResult & { connectionErrors?: number; connectionErrorSamples?: string[] };

/** A figure, or '—' where there is none (NaN and undefined arrive from JSON as null or nothing). */
const num = (value: unknown): string => (typeof value === 'number' ? fmt(value) : '—');
const perProcess = (r: Row, value: (p: Row['perProcess'][number]) => number): string =>
  r.perProcess.map((p) => num(value(p))).join(' / ');

interface Table {
  columns: string[];
  row(r: Row): string[];
}

const FAN_OUT: Table = {
  columns: [
    'backend',
    'subscribers per process',
    'p50 ms (↓)',
    'p99 ms (↓)',
    'max ms (↓)',
    'lost (↓)',
    'server CPU µs/delivery, per process (↓)',
    'event loop busy %, per process',
    'balancer CPU µs/delivery',
    'store CPU µs/tick (↓)',
    'load average at start',
  ],
  row: (r) => [
    perProcess(r, (p) => p.subscribers),
    num(r.p50Ms),
    num(r.p99Ms),
    num(r.maxMs),
    `${num(r.lost)} of ${num(r.expected)}`,
    perProcess(r, (p) => p.cpuUsPerDelivery),
    perProcess(r, (p) => p.loopBusyPct),
    num(r.balancerCpuUsPerDelivery),
    num(r.storeCpuUsPerEvent),
    num(r.loadAverage),
  ],
};

const PUBLISH_AND_CONTROL: Table = {
  columns: [
    'backend',
    'publish → ack p50 / p99 ms (↓)',
    'sequential publishes/s (↑)',
    'concurrent publishes/s (↑)',
    'store CPU µs/publish (concurrent) (↓)',
    'subscribe on an open connection p50 / p99 ms (↓)',
    'handed over, per process',
    'hand-over round trip p50 / p99 ms (↓)',
  ],
  row: (r) => [
    `${num(r.publishAckP50Ms)} / ${num(r.publishAckP99Ms)}`,
    num(r.sequentialPublishesPerSec),
    `${num(r.concurrentPublishesPerSec)} (${r.concurrentTopics} topics)`,
    num(r.storeCpuUsPerPublish),
    `${num(r.controlSubscribeP50Ms)} / ${num(r.controlSubscribeP99Ms)}`,
    r.controlForwarded.map(num).join(' / '),
    `${num(r.forwardP50Ms)} / ${num(r.forwardP99Ms)}`,
  ],
};

function table(t: Table, cells: Array<[string, Row | null]>): string[] {
  const lines = [`| ${t.columns.join(' | ')} |`, `|${t.columns.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const [label, r] of cells) {
    const values = r ? t.row(r) : t.columns.slice(1).map(() => '—');
    lines.push(`| ${[label, ...values].join(' | ')} |`);
  }
  return lines;
}

/** What went wrong in a row, in words, under the tables. */
function notes(label: string, r: Row): string[] {
  const out: string[] = [];
  const quote = (samples: string[]): string => samples.map((s) => `\`${s}\``).join(', ');
  if (r.errorSamples.length) out.push(`- ${label}: subscription errors seen: ${quote(r.errorSamples)}`);
  if (r.connectionErrorSamples?.length)
    out.push(`- ${label}: ${r.connectionErrors} client connection errors: ${quote(r.connectionErrorSamples)}`);
  if (r.publishFailures > 0)
    out.push(`- ${label}: ${r.publishFailures} publishes failed: ${quote(r.publishFailureSamples)}`);
  if (r.controlErrors > 0)
    out.push(
      `- ${label}: ${r.controlErrors} subscribes on the open connection failed: ${quote(r.controlErrorSamples)}`,
    );
  if (r.controlUnanswered > 0) out.push(`- ${label}: ${r.controlUnanswered} hand-overs found no owner or failed`);
  return out;
}

export function renderMultiProcessMarkdown(cells: NonNullable<Results['multiProcess']>, cfg: Config): string {
  const n = cfg.multiProcessSubscribers.toLocaleString('en-US');
  const rows: Array<[string, Row | null]> = [];
  const problems: string[] = [];
  for (const [id, cell] of Object.entries(cells) as Array<[BackendId, object]>) {
    const label = BACKEND_LABELS[id];
    if ('error' in cell) problems.push(`- ${label}: **error**: ${String(cell.error)}`);
    else if ('skipped' in cell) problems.push(`- ${label}: skipped: ${String(cell.skipped)}`);
    else problems.push(...notes(label, cell as Row));
    rows.push([label, 'error' in cell || 'skipped' in cell ? null : (cell as Row)]);
  }
  return [
    `## 8. Several server processes on a shared backend: fan-out to ${n} subscribers, publish throughput`,
    '',
    `Per backend: a fresh store, two trpc-sse server processes on its event log and connection directory behind a round-robin TCP balancer on loopback (in the orchestrator), ${n} multiplexed subscribers (each its own client, all in one client process) connecting through the balancer. The memory log is the reference: one process (its log is its own), same balancer. The stores' defaults throughout (\`maxEvents\` 1,000; a Postgres pool of 10 per process).`,
    '',
    `**Fan-out**: ${cfg.fanoutEvents} ticks at ${cfg.fanoutRate}/s, published through the processes in turn; the log carries each to every process. Latency = receipt − the publish call, on the shared clock (it includes the trip through the store). Lost = not received ${cfg.graceMs / 1000} s after the last publish. CPU per delivery is each process's own (its share of the publishes, reading the log, writing its streams) ÷ the deliveries it made. Store CPU per tick: the store's processes (every redis-server of a cluster, replicas included; the postmaster and its backends), read from /proc, over the fan-out ÷ ticks published (its background work over that window included: an upper bound). Load average: the machine's, over the minute before the case (above the core count, other work competed for the CPU and the latencies show it).`,
    '',
    ...table(FAN_OUT, rows),
    '',
    `**Publishing and control requests**: publish → ack is each fan-out publish until the store acknowledged it. Then, on topics nobody reads: sequential = one publisher awaiting each publish (${cfg.publishSequential.toLocaleString('en-US')} events); concurrent = ${cfg.publishTopics} publishers, one topic each, spread over the processes, each awaiting its own (${cfg.publishConcurrent.toLocaleString('en-US')} events in all), with the store's CPU per publish over that phase. Subscribe on an open connection = subscribe → first event, ${cfg.connectIters} times on one client's connection (a control request to subscribe and one to unsubscribe each time); its requests reach the processes through the balancer, and those that reach the process not holding the stream are handed over through the directory: how many, and the hand-over's round trip measured in the process that handed over.`,
    '',
    ...table(PUBLISH_AND_CONTROL, rows),
    ...(problems.length ? ['', ...problems] : []),
  ].join('\n');
}
