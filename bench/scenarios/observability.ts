/**
 * 7. What observability costs the server: the fan-out at `observabilitySubscribers` (trpc-sse
 * multiplexed), in rounds that alternate off (nobody listens) and on (a listener on every
 * diagnostics channel, `prometheusMetrics(core)` every second; see
 * transports/observeEverything.ts). Counters run in both: they are not optional. Alternating
 * spreads the machine's drift over both settings; medians keep one noisy round out.
 */
import type { Config } from '../config.js';
import type { ObservabilityCost } from '../results.js';
import { TRANSPORTS } from '../transports/registry.js';
import { runFanout } from './fanout.js';

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export async function runObservabilityCost(cfg: Config, log: (line: string) => void): Promise<ObservabilityCost> {
  const mux = TRANSPORTS.find((t) => t.id === 'mux')!;
  const n = cfg.observabilitySubscribers;
  const result: ObservabilityCost = {
    subscribers: n,
    offUsPerDelivery: [],
    onUsPerDelivery: [],
    overheadPct: NaN,
    channelMessages: 0,
    errors: [],
  };
  for (let round = 0; round < cfg.observabilityRounds; round++) {
    for (const on of [false, true]) {
      const r = await runFanout(mux, cfg, n, on ? { BENCH_OBSERVE: 1 } : {});
      if ('error' in r) {
        result.errors.push(`${on ? 'on' : 'off'}: ${r.error}`);
        continue;
      }
      if (r.lost > 0) result.errors.push(`${on ? 'on' : 'off'}: ${r.lost} deliveries lost (saturated)`);
      (on ? result.onUsPerDelivery : result.offUsPerDelivery).push(r.serverCpuUsPerDelivery);
      if (on) result.channelMessages += (r as { observedMessages?: number }).observedMessages ?? 0;
      log(`observability round ${round + 1} ${on ? 'on ' : 'off'}: ${r.serverCpuUsPerDelivery.toFixed(2)} µs/delivery`);
    }
  }
  if (result.onUsPerDelivery.length && result.offUsPerDelivery.length) {
    result.overheadPct = (median(result.onUsPerDelivery) / median(result.offUsPerDelivery) - 1) * 100;
  }
  return result;
}

/** The markdown section. */
export function renderObservabilityMarkdown(cost: ObservabilityCost): string {
  const fmt = (values: number[]) => values.map((v) => v.toFixed(2)).join(', ');
  return [
    `## 7. Observability: server CPU per delivery, ${cost.subscribers.toLocaleString('en')} subscribers (trpc-sse mux)`,
    '',
    'Off: nobody listens to the diagnostics channels. On: a listener on every channel and `prometheusMetrics(core)` every second. The counters behind `core.stats()` run in both. Target: at most 3 % more.',
    '',
    '| setting | µs/delivery per round | median |',
    '|---|---|---|',
    `| off | ${fmt(cost.offUsPerDelivery)} | ${cost.offUsPerDelivery.length ? median(cost.offUsPerDelivery).toFixed(2) : '—'} |`,
    `| on | ${fmt(cost.onUsPerDelivery)} | ${cost.onUsPerDelivery.length ? median(cost.onUsPerDelivery).toFixed(2) : '—'} |`,
    '',
    `Overhead: **${Number.isNaN(cost.overheadPct) ? '—' : `${cost.overheadPct.toFixed(1)} %`}** (${cost.channelMessages} channel messages in the "on" rounds: none per delivery).`,
    ...cost.errors.map((e) => `- **error**: ${e}`),
  ].join('\n');
}
