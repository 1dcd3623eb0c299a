/** `results/latest.md`: machine facts, then one table per scenario with the mux ÷ peer ratios. */
import { renderObservabilityMarkdown } from '../scenarios/observability.js';
import { renderBundleSizeMarkdown } from '../../scripts/bundle-size.js';
import type { Config } from '../config.js';
import type { CaseResult, Results } from '../results.js';
import { TRANSPORTS } from '../transports/registry.js';
import { fmt, pick, ratio } from './format.js';
import { renderMultiProcessMarkdown } from './multiProcess.js';
import { laterSections, sections, type Metric, type Section } from './sections.js';

const PEERS = TRANSPORTS.filter((t) => t.id !== 'mux');

/** Why a cell has no number: the case (or the part of it on the path) failed or was skipped. */
function failure(cell: unknown, path: string): string | undefined {
  let cur: unknown = cell;
  for (const key of ['', ...path.split('.')]) {
    if (key) cur = (cur as Record<string, unknown> | undefined)?.[key];
    if (cur && typeof cur === 'object') {
      if ('error' in cur) return 'error';
      if ('skipped' in cur) return 'skipped';
    }
  }
  return undefined;
}

function cellText(cell: CaseResult | undefined, metric: Metric): string {
  if (!cell) return '—';
  const value = pick(cell, metric.path);
  if (value === undefined) return failure(cell, metric.path) ?? '—';
  const saturated = metric.saturation && pick(cell, 'lost') !== undefined && pick(cell, 'lost')! > 0;
  return fmt(value) + (saturated ? ' (sat)' : '');
}

function table(section: Section): string {
  // The first column is trpc-sse mux (over whatever the section runs on): the ratios' numerator.
  const [base, ...peers] = section.columns ?? [TRANSPORTS[0]!, ...PEERS];
  const columns = [base!, ...peers];
  const head = ['metric', ...columns.map((t) => t.label), ...peers.map((p) => `mux ÷ ${p.label}`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const metric of section.metrics) {
    const mux = pick(section.cells[base!.id], metric.path);
    const arrow = { higher: ' (↑)', lower: ' (↓)', info: '' }[metric.better];
    const row = [
      `${metric.label}${arrow}`,
      ...columns.map((t) => cellText(section.cells[t.id], metric)),
      ...peers.map((p) => (metric.better === 'info' ? '' : ratio(mux, pick(section.cells[p.id], metric.path)))),
    ];
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The failures of a section, in words, under its table. */
function failures(section: Section): string[] {
  const out: string[] = [];
  const visit = (label: string, value: unknown): void => {
    if (!value || typeof value !== 'object') return;
    const v = value as Record<string, unknown>;
    if (typeof v['error'] === 'string') out.push(`- ${label}: **error**: ${v['error']}`);
    else if (typeof v['skipped'] === 'string') out.push(`- ${label}: skipped: ${v['skipped']}`);
    else
      for (const [k, inner] of Object.entries(v))
        if (inner && typeof inner === 'object' && !Array.isArray(inner)) visit(`${label} ${k}`, inner);
    for (const [key, what] of [
      ['errorSamples', 'subscription errors'],
      ['connectionErrorSamples', 'client connection errors'],
    ] as const) {
      const samples = v[key];
      if (Array.isArray(samples) && samples.length)
        out.push(`- ${label}: ${what} seen: ${samples.map((s) => `\`${String(s)}\``).join(', ')}`);
    }
  };
  for (const t of section.columns ?? TRANSPORTS) visit(t.label, section.cells[t.id]);
  return out;
}

/** A section's title, notes, table and failures; nothing for a scenario left out of this run (ONLY=…). */
function renderSection(parts: string[], section: Section): void {
  if (Object.keys(section.cells).length === 0) return;
  parts.push('', `## ${section.title}`, '', ...section.notes, '', table(section));
  const f = failures(section);
  if (f.length) parts.push('', ...f);
}

export function renderMarkdown(r: Results, cfg: Config): string {
  const m = r.machine;
  const parts = [
    `# trpc-sse benchmark${cfg.quick ? ' (quick)' : ''}`,
    '',
    `Run ${r.startedAt}, ${fmt(r.elapsedS)} s. Machine: ${m.nproc} cores (${m.cpuModel}), ${m.memGB} GB, Linux ${m.kernel}, Node ${m.node}. trpc-sse ${m.versions['trpc-sse']} at ${m.commit}${m.srcDirty === true ? ' with uncommitted changes in src/' : m.srcDirty === false ? ' (src/ clean)' : ''}.`,
    '',
    `Versions: ${Object.entries(m.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
    'Server and client run in separate processes (forked fresh for every case) on 127.0.0.1. Columns: **trpc-sse mux** = our server + `createSSEClient({ mode: "multiplexed" })`; **trpc-sse distinct** = our server + `mode: "distinct"`; **tRPC SSE** = tRPC\'s standalone server + `httpSubscriptionLink` with the `eventsource` package; **wsLink** = `applyWSSHandler` + `createWSClient`/`wsLink`, one socket per client; **raw SSE** = node:http writing `data:` lines + a fetch reader (no ids, no resume).',
    '',
    'Ratios are **trpc-sse mux ÷ peer**, from this run. ↑ = higher is better (ratio > 1 favours mux); ↓ = lower is better (ratio < 1 favours mux). One run on a shared 2-core VM: expect ±30 % on absolute figures between runs; ratios are steadier.',
    '',
    `Scenario wall times: ${Object.entries(r.scenarioSeconds)
      .map(([k, v]) => `${k} ${fmt(v)} s`)
      .join(', ')}.`,
  ];
  for (const section of sections(r, cfg)) renderSection(parts, section);
  if (r.size) {
    const title = '6. Bundle size: what a subscription link adds to a tRPC app';
    const size =
      'error' in r.size
        ? `## ${title}\n\n- **error**: ${r.size.error}`
        : renderBundleSizeMarkdown(r.size, { level: 2, title }).trimEnd();
    parts.push('', size);
  }
  if (r.observability) parts.push('', renderObservabilityMarkdown(r.observability));
  if (r.multiProcess) parts.push('', renderMultiProcessMarkdown(r.multiProcess, cfg));
  for (const section of laterSections(r, cfg)) renderSection(parts, section);
  return parts.join('\n') + '\n';
}
