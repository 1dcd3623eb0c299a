import { LAG_BUCKETS_SECONDS } from './histogram.js';
import { metricFamilies } from './metricFamilies.js';
import type { SSEServerStats } from './stats.js';

/**
 * The part of `@opentelemetry/api`'s `Meter` the bridge uses, written out so that neither this
 * package nor an app that never calls the bridge needs `@opentelemetry/api` (an optional peer):
 * `metrics.getMeter('my-app')` satisfies it.
 */
export interface OpenTelemetryMeter {
  createObservableGauge(name: string, options?: OpenTelemetryInstrumentOptions): object;
  createObservableCounter(name: string, options?: OpenTelemetryInstrumentOptions): object;
  createHistogram(
    name: string,
    options?: OpenTelemetryInstrumentOptions & { advice?: { explicitBucketBoundaries?: number[] } },
  ): { record(value: number, attributes?: Record<string, string>): void };
  addBatchObservableCallback(callback: (result: OpenTelemetryBatchResult) => void, observables: object[]): void;
  removeBatchObservableCallback(callback: (result: OpenTelemetryBatchResult) => void, observables: object[]): void;
}

export interface OpenTelemetryInstrumentOptions {
  description?: string;
  unit?: string;
}

export interface OpenTelemetryBatchResult {
  observe(observable: object, value: number, attributes?: Record<string, string>): void;
}

/** Options of {@link registerOpenTelemetryMetrics}. */
export interface OpenTelemetryMetricsOptions {
  /** Attributes added to every measurement. @default {} */
  attributes?: Record<string, string>;
}

/** What {@link registerOpenTelemetryMetrics} returns. */
export interface OpenTelemetryRegistration {
  /** Stops reporting (the instruments stay with the meter, silent). */
  unregister(): void;
}

/** The core as the bridge sees it (an `SSECore`). */
interface ObservedCore {
  stats(): SSEServerStats;
  observeDeliveryLag(listener: (seconds: number) => void): () => void;
}

/**
 * Reports a server's figures through an OpenTelemetry meter: observable gauges and counters
 * read `core.stats()` once per collection (nothing is recorded per event), and the delivery
 * lag is a histogram (`trpc_sse.delivery_lag`, seconds, the same buckets as Prometheus').
 * Instrument names are the Prometheus names with dots (`trpc_sse.connections`,
 * `trpc_sse.resumes`, …) and the unit apart (README, "Observability").
 */
export function registerOpenTelemetryMetrics(
  core: ObservedCore,
  meter: OpenTelemetryMeter,
  opts: OpenTelemetryMetricsOptions = {},
): OpenTelemetryRegistration {
  const common = opts.attributes ?? {};
  const instruments = new Map<string, object>();
  for (const family of metricFamilies(core.stats())) {
    const options = { description: family.help, unit: family.unit };
    const instrument =
      family.kind === 'gauge'
        ? meter.createObservableGauge(family.openTelemetryName, options)
        : meter.createObservableCounter(family.openTelemetryName, options);
    instruments.set(family.openTelemetryName, instrument);
  }
  const observe = (result: OpenTelemetryBatchResult): void => {
    for (const family of metricFamilies(core.stats())) {
      const instrument = instruments.get(family.openTelemetryName)!;
      for (const sample of family.samples) result.observe(instrument, sample.value, { ...common, ...sample.labels });
    }
  };
  const observables = [...instruments.values()];
  meter.addBatchObservableCallback(observe, observables);
  const lag = meter.createHistogram('trpc_sse.delivery_lag', {
    description: "Time from an event log's publish to the server writing the event to a stream.",
    unit: 's',
    advice: { explicitBucketBoundaries: [...LAG_BUCKETS_SECONDS] },
  });
  const stopLag = core.observeDeliveryLag((seconds) => lag.record(seconds, common));
  return {
    unregister() {
      meter.removeBatchObservableCallback(observe, observables);
      stopLag();
    },
  };
}
