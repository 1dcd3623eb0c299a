/**
 * `results/latest.svg`: how many times better trpc-sse mux does than each peer on a few key
 * metrics, as horizontal bars on a log scale around 1 (right of the line = mux better).
 * Hand-written SVG: no chart library.
 */
import type { BundleSizeReport, ScenarioId } from '../../scripts/bundle-size.js';
import type { Config } from '../config.js';
import type { ByTransport, Results } from '../results.js';
import { TRANSPORTS } from '../transports/registry.js';
import type { TransportId } from '../transports/types.js';
import { fmt, pick } from './format.js';

interface Key {
  label: string;
  cells: ByTransport;
  path: string;
  better: 'lower' | 'higher';
}

const COLORS: Record<string, string> = { distinct: '#6a9fd8', stock: '#e0884a', ws: '#59a85f', raw: '#9b7ec8' };
const LIMIT = 64; // bars are clamped to 1/64 … 64

function keys(r: Results, cfg: Config): Key[] {
  const fanN = cfg.fanoutSizes.includes(1000) ? 1000 : cfg.fanoutSizes[cfg.fanoutSizes.length - 1]!;
  const memN = cfg.memorySizes[cfg.memorySizes.length - 1]!;
  const fan = r.fanout[fanN] ?? {};
  const size = r.size && !('error' in r.size) ? r.size : undefined;
  return [
    { label: 'throughput events/s', cells: r.throughput, path: 'eventsPerSec', better: 'higher' },
    { label: 'throughput server CPU/event', cells: r.throughput, path: 'serverCpuUsPerEvent', better: 'lower' },
    { label: `fan-out ${fanN}: p50 latency`, cells: fan, path: 'p50Ms', better: 'lower' },
    { label: `fan-out ${fanN}: server CPU/delivery`, cells: fan, path: 'serverCpuUsPerDelivery', better: 'lower' },
    { label: `idle ${memN}: heap/connection`, cells: r.idle, path: `${memN}.heapKBPerConn`, better: 'lower' },
    { label: 'subscribe → first event p50', cells: r.connect, path: 'p50Ms', better: 'lower' },
    { label: 'storm: all resumed', cells: r.storm, path: 'allResumedMs', better: 'lower' },
    ...(size
      ? [{ label: 'bundle: added gzip', cells: addedGzipCells(size), path: 'addedGzip', better: 'lower' } as const]
      : []),
  ];
}

/** The default client in the mux row (what an app of either mode ships), the stock links in theirs. */
function addedGzipCells(size: BundleSizeReport): ByTransport {
  const cells: ByTransport = {};
  const column: Partial<Record<ScenarioId, TransportId>> = {
    default: 'mux',
    wsLink: 'ws',
    httpSubscriptionLink: 'stock',
  };
  for (const scenario of size.scenarios) {
    const id = column[scenario.id];
    if (id && scenario.status === 'built') cells[id] = { addedGzip: scenario.added.gzip };
  }
  return cells;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderSvg(r: Results, cfg: Config): string {
  const peers = TRANSPORTS.filter((t) => t.id !== 'mux');
  const labelW = 250;
  const plotW = 560;
  const width = labelW + plotW + 40;
  const center = labelW + plotW / 2;
  const perDoubling = plotW / 2 / Math.log2(LIMIT);
  const barH = 11;
  const groupH = peers.length * (barH + 3) + 14;
  const top = 70;
  const rows = keys(r, cfg);
  const height = top + rows.length * groupH + 30;
  const x = (advantage: number): number =>
    center + Math.max(-Math.log2(LIMIT), Math.min(Math.log2(LIMIT), Math.log2(advantage))) * perDoubling;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">trpc-sse mux vs peers: times better (log scale; right of 1× = mux better)</text>`,
    `<text x="10" y="34" fill="#555">${esc(`${r.machine.nproc} cores, Node ${r.machine.node}, ${r.startedAt}${cfg.quick ? ', quick run' : ''}`)}</text>`,
  ];
  peers.forEach((p, i) => {
    out.push(`<rect x="${labelW + i * 130}" y="44" width="10" height="10" fill="${COLORS[p.id]}"/>`);
    out.push(`<text x="${labelW + i * 130 + 14}" y="53">${esc(p.label)}</text>`);
  });
  for (let e = -Math.log2(LIMIT); e <= Math.log2(LIMIT); e += 2) {
    const gx = center + e * perDoubling;
    out.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${height - 24}" stroke="${e === 0 ? '#000' : '#ddd'}"/>`);
    const tick = e >= 0 ? `${2 ** e}×` : `1/${2 ** -e}`;
    out.push(`<text x="${gx}" y="${height - 10}" text-anchor="middle" fill="#555">${tick}</text>`);
  }
  rows.forEach((key, row) => {
    const y0 = top + row * groupH;
    out.push(`<text x="${labelW - 8}" y="${y0 + groupH / 2 - 4}" text-anchor="end">${esc(key.label)}</text>`);
    const mux = pick(key.cells.mux, key.path);
    peers.forEach((p, i) => {
      const y = y0 + i * (barH + 3);
      const peer = pick(key.cells[p.id], key.path);
      if (mux === undefined || peer === undefined || !(mux > 0) || !(peer > 0)) {
        out.push(`<text x="${center + 4}" y="${y + barH - 2}" fill="#999">${esc(p.label)}: n/a</text>`);
        return;
      }
      const advantage = key.better === 'higher' ? mux / peer : peer / mux;
      const xa = x(advantage);
      out.push(
        `<rect x="${Math.min(center, xa)}" y="${y}" width="${Math.max(1, Math.abs(xa - center))}" height="${barH}" fill="${COLORS[p.id]}"><title>${esc(`${key.label}, vs ${p.label}: ${fmt(advantage)}×`)}</title></rect>`,
      );
      const tx = xa >= center ? xa + 3 : xa - 3;
      out.push(
        `<text x="${tx}" y="${y + barH - 2}" text-anchor="${xa >= center ? 'start' : 'end'}" fill="#333">${fmt(advantage)}×</text>`,
      );
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
