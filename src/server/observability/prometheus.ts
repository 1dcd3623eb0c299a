import { metricFamilies } from './metricFamilies.js';
import type { SSEServerStats } from './stats.js';

/** Options of {@link prometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /**
   * Labels added to every sample, e.g. `{ server: 'api' }` when one process runs several
   * handlers (each has its own figures).
   * @default {}
   */
  labels?: Record<string, string>;
}

/** The delivery-lag histogram's name. */
const LAG_NAME = 'trpc_sse_delivery_lag_seconds';

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

function formatNumber(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return Number.isNaN(value) ? 'NaN' : String(value);
}

/**
 * The server's figures (`core.stats()`) in the Prometheus text exposition format (0.0.4), for a
 * `/metrics` route: `trpc_sse_connections{mode}`, `trpc_sse_resumes_total{source}`,
 * `trpc_sse_delivery_lag_seconds` (a histogram), … (README, "Observability"). Serve it with
 * `Content-Type: text/plain; version=0.0.4`.
 */
export function prometheusMetrics(source: { stats(): SSEServerStats }, opts: PrometheusMetricsOptions = {}): string {
  const stats = source.stats();
  const common = opts.labels ?? {};
  const lines: string[] = [];
  for (const family of metricFamilies(stats)) {
    lines.push(`# HELP ${family.prometheusName} ${family.help}`, `# TYPE ${family.prometheusName} ${family.kind}`);
    for (const sample of family.samples) {
      lines.push(
        `${family.prometheusName}${formatLabels({ ...common, ...sample.labels })} ${formatNumber(sample.value)}`,
      );
    }
  }
  const lag = stats.deliveryLag;
  lines.push(
    `# HELP ${LAG_NAME} Time from an event log's publish to the server writing the event to a stream.`,
    `# TYPE ${LAG_NAME} histogram`,
  );
  lag.buckets.forEach((bound, i) =>
    lines.push(`${LAG_NAME}_bucket${formatLabels({ ...common, le: String(bound) })} ${lag.counts[i]!}`),
  );
  lines.push(
    `${LAG_NAME}_bucket${formatLabels({ ...common, le: '+Inf' })} ${lag.count}`,
    `${LAG_NAME}_sum${formatLabels(common)} ${formatNumber(lag.sum)}`,
    `${LAG_NAME}_count${formatLabels(common)} ${lag.count}`,
  );
  return lines.join('\n') + '\n';
}
