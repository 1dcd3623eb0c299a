/**
 * What the report shows: per scenario, the metrics (rows) and where each lives in a case's
 * raw result. `better` says which direction is good, for the ratio columns and the chart.
 */
import type { Config } from '../config.js';
import { BROWSER_COLUMNS } from '../browser/columns.js';
import type { ByTransport, CaseResult, Results } from '../results.js';
import { SECURE_TRANSPORTS } from '../transports/registry.js';

export interface Metric {
  label: string;
  path: string;
  /** `info`: context for the other rows (no direction, no ratio). */
  better: 'lower' | 'higher' | 'info';
  /** Mark the cell "(sat)" when the case lost deliveries. */
  saturation?: boolean;
}

export interface Section {
  title: string;
  notes: string[];
  /** Results by column id (a transport's, or the browser scenario's reader). */
  cells: Partial<Record<string, CaseResult>>;
  metrics: Metric[];
  /**
   * The table's columns, the first one the ratios' numerator.
   * @default the five transports of sections 1 to 5, trpc-sse mux first
   */
  columns?: ReadonlyArray<{ id: string; label: string }>;
}

export function sections(r: Results, cfg: Config): Section[] {
  const out: Section[] = [
    {
      title: `1. Throughput: one subscriber, ${cfg.throughputCount.toLocaleString('en-US')} events`,
      notes: [
        'events/s = events ÷ (last receipt − first receipt). CPU measured in each process with process.cpuUsage().',
      ],
      cells: r.throughput,
      metrics: [
        { label: 'events/s', path: 'eventsPerSec', better: 'higher' },
        { label: 'wall ms (subscribe → last event)', path: 'wallMs', better: 'lower' },
        { label: 'server CPU µs/event', path: 'serverCpuUsPerEvent', better: 'lower' },
        { label: 'client CPU µs/event', path: 'clientCpuUsPerEvent', better: 'lower' },
      ],
    },
  ];
  for (const n of cfg.fanoutSizes) {
    out.push({
      title: `2. Fan-out: ${n.toLocaleString('en-US')} subscribers (one client each), ${cfg.fanoutEvents} events at ${cfg.fanoutRate}/s`,
      notes: [
        `latency = receipt − send timestamp, over every delivery received. lost = deliveries not received ${cfg.graceMs / 1000} s after the last publish; (sat) = saturated, latency then covers what arrived.`,
        'Server CPU comes from process.cpuUsage() over IPC; a server too saturated to answer within 20 s is read from /proc instead (serverCpuVia in latest.json), and its heap after gc is then not measured (—).',
      ],
      cells: r.fanout[n] ?? {},
      metrics: [
        { label: 'latency p50 ms', path: 'p50Ms', better: 'lower', saturation: true },
        { label: 'latency p99 ms', path: 'p99Ms', better: 'lower', saturation: true },
        { label: 'latency max ms', path: 'maxMs', better: 'lower', saturation: true },
        { label: 'lost deliveries', path: 'lost', better: 'lower' },
        { label: 'server CPU µs/delivery', path: 'serverCpuUsPerDelivery', better: 'lower', saturation: true },
        { label: 'client CPU µs/delivery', path: 'clientCpuUsPerDelivery', better: 'lower', saturation: true },
        { label: 'server event loop busy % while publishing', path: 'serverLoopBusyPct', better: 'lower' },
        { label: 'server RSS MB at end', path: 'serverRssMB', better: 'lower' },
        { label: 'server heapUsed MB at end, after gc', path: 'serverLiveHeapMB', better: 'lower' },
        { label: 'time to open all ms', path: 'openMs', better: 'lower' },
        { label: 'trpc-sse client connection errors', path: 'connectionErrors', better: 'info' },
      ],
    });
  }
  out.push({
    title: '3. Idle memory per connection (one client per subscriber), server side, after gc',
    notes: ['(memoryUsage − baseline after a warm-up) ÷ N.'],
    cells: r.idle,
    metrics: [
      ...cfg.memorySizes.flatMap((n): Metric[] => [
        { label: `N=${n}: heapUsed KB/conn`, path: `${n}.heapKBPerConn`, better: 'lower' },
        { label: `N=${n}: RSS KB/conn`, path: `${n}.rssKBPerConn`, better: 'lower' },
      ]),
      { label: 'baseline RSS MB', path: 'baseRssMB', better: 'lower' },
    ],
  });
  out.push({
    title: `3b. Idle memory per extra subscription on ONE connection (${cfg.sharedSubscriptions} subscriptions on one client)`,
    notes: [
      "trpc-sse mux: one multiplexed stream (the server's maxSubscriptionsPerConnection raised for this case); wsLink: one socket. Other transports have one stream per subscription (see 3).",
    ],
    cells: r.idleShared,
    metrics: [
      { label: 'heapUsed KB/subscription', path: 'heapKBPerSub', better: 'lower' },
      { label: 'RSS KB/subscription', path: 'rssKBPerSub', better: 'lower' },
    ],
  });
  out.push({
    title: `4. Subscribe → first event, ${cfg.connectIters} sequential (after ${cfg.connectWarmup} warm-up)`,
    notes: [
      'fresh: a new client (connection) per subscription. open connection: subscribing on a client that is already connected (trpc-sse mux, wsLink).',
    ],
    cells: mergeConnect(r.connect, r.connectWarm),
    metrics: [
      { label: 'fresh client: p50 ms', path: 'fresh.p50Ms', better: 'lower' },
      { label: 'fresh client: p99 ms', path: 'fresh.p99Ms', better: 'lower' },
      { label: 'open connection: p50 ms', path: 'warm.p50Ms', better: 'lower' },
      { label: 'open connection: p99 ms', path: 'warm.p99Ms', better: 'lower' },
    ],
  });
  out.push({
    title: `5. Reconnect storm: ${cfg.stormClients.toLocaleString('en-US')} clients on a tracked counter (${1000 / cfg.stormPeriodMs}/s), server SIGKILLed and restarted on the same port`,
    notes: [
      'Times from the kill. server down = kill → new process listening. resumed = first event from the new process. lost = counter values a client never received (must be 0). Each client library retries with its default backoff.',
      'raw SSE has no event ids and no resume, so it takes no part. The last two rows show the resume path ran: subscriptions the new server saw with a resume id, and the values it replayed to them at once (missed while it was down).',
    ],
    cells: r.storm,
    metrics: [
      { label: 'server down ms (restart time, same for all)', path: 'serverDownMs', better: 'info' },
      { label: 'all resumed ms', path: 'allResumedMs', better: 'lower' },
      { label: 'resumed p50 ms', path: 'resumeP50Ms', better: 'lower' },
      { label: 'resumed p99 ms', path: 'resumeP99Ms', better: 'lower' },
      { label: 'not resumed', path: 'notResumed', better: 'lower' },
      { label: 'events lost', path: 'lost', better: 'lower' },
      { label: 'duplicates', path: 'duplicates', better: 'lower' },
      { label: 'subscription errors', path: 'errors', better: 'lower' },
      { label: 'trpc-sse client connection errors (retried)', path: 'connectionErrors', better: 'info' },
      { label: 'subscriptions resumed with an id (new server)', path: 'serverResumes', better: 'info' },
      { label: 'values replayed at once (new server)', path: 'serverReplayed', better: 'info' },
    ],
  });
  return out;
}

/** Connect results of both variants under one cell per transport. */
function mergeConnect(fresh: ByTransport, warm: ByTransport): ByTransport {
  const out: ByTransport = {};
  for (const [id, value] of Object.entries(fresh)) out[id as keyof ByTransport] = { fresh: value };
  for (const [id, value] of Object.entries(warm)) {
    const key = id as keyof ByTransport;
    out[key] = { ...(out[key] ?? {}), warm: value };
  }
  return out;
}

/** Sections rendered after the bundle size, observability and multi-process ones. */
export function laterSections(r: Results, cfg: Config): Section[] {
  const events = (n: number): string => n.toLocaleString('en-US');
  return [
    {
      title: `9. HTTP/2 with TLS: ${cfg.h2Subscriptions} subscriptions from one client`,
      notes: [
        "One client in Node, one connection: trpc-sse over node:http2 `createSecureServer` (`allowHTTP1: false`), the client's fetch through undici's `Agent({ allowH2: true })`; multiplexed = one GET stream + control POSTs, distinct = one h2 stream per subscription; wsLink = one WebSocket to an HTTPS server (wss://). Self-signed certificate made at run time.",
        `time to open all = the ${cfg.h2Subscriptions} subscriptions asked for at once → all started. Fan-out: ${cfg.fanoutEvents} ticks at ${cfg.fanoutRate}/s to every subscription; latency = receipt − send. Throughput: ${cfg.h2Subscriptions} \`stream\` subscriptions of ${events(cfg.h2EventsPerStream)} events each, all at once; events/s = all events ÷ (last receipt − first receipt). CPU from process.cpuUsage() in each process.`,
      ],
      cells: r.http2 ?? {},
      columns: SECURE_TRANSPORTS,
      metrics: [
        { label: 'time to open all ms', path: 'openMs', better: 'lower' },
        { label: 'fan-out latency p50 ms', path: 'fanout.p50Ms', better: 'lower' },
        { label: 'fan-out latency p99 ms', path: 'fanout.p99Ms', better: 'lower' },
        { label: 'fan-out lost deliveries', path: 'fanout.lost', better: 'lower' },
        { label: 'fan-out server CPU µs/delivery', path: 'fanout.serverCpuUsPerDelivery', better: 'lower' },
        { label: 'fan-out client CPU µs/delivery', path: 'fanout.clientCpuUsPerDelivery', better: 'lower' },
        { label: 'throughput events/s (all streams)', path: 'throughput.eventsPerSec', better: 'higher' },
        { label: 'throughput server CPU µs/event', path: 'throughput.serverCpuUsPerEvent', better: 'lower' },
        { label: 'throughput client CPU µs/event', path: 'throughput.clientCpuUsPerEvent', better: 'lower' },
        { label: 'trpc-sse client connection errors', path: 'connectionErrors', better: 'info' },
      ],
    },
    {
      title: `10. The client in Chromium: ${cfg.browserRounds} streams of ${events(cfg.browserEvents)} events one after another, as fast as the server sends`,
      notes: [
        `Headless Chromium (Debian's, through playwright-core), a fresh page per case, served at the server's origin. sseLink = tRPC's client with trpc-sse's link, on trpc-sse's server. EventSource = the browser's own, \`JSON.parse\` of each message: on trpc-sse's distinct stream (the same bytes sseLink distinct reads), or on the raw SSE server (bare \`data:\` lines, no ids). Measured after a warm-up of ${events(cfg.browserWarmupEvents)} events in the same page.`,
        "events/s = events ÷ (last − first receipt), `performance.now()` in the page. Main-thread µs/event = the DevTools protocol's `Performance.getMetrics` TaskDuration (every task the renderer's main thread ran: JavaScript with its promise jobs, EventSource's parser and dispatch, stream reads, garbage collection) after − before a run, ÷ events: wall time inside tasks, so a busy machine inflates it. Renderer and all-process CPU = the protocol's `SystemInfo.getProcessInfo` cpuTime (10 ms steps), after − before, ÷ events: the network service reads the socket for every reader. Every figure is the median over the runs. Server CPU covers the warm-up too.",
      ],
      cells: r.browser ?? {},
      columns: BROWSER_COLUMNS,
      metrics: [
        { label: 'events/s', path: 'eventsPerSec', better: 'higher' },
        { label: 'main-thread µs/event', path: 'mainThreadUsPerEvent', better: 'lower' },
        { label: 'renderer CPU µs/event', path: 'rendererCpuUsPerEvent', better: 'lower' },
        { label: 'all Chromium processes CPU µs/event', path: 'chromiumCpuUsPerEvent', better: 'lower' },
        { label: 'server CPU µs/event', path: 'serverCpuUsPerEvent', better: 'lower' },
      ],
    },
  ];
}
