/**
 * The two bridges of `core.stats()`: Prometheus text, read back by a real parser, and
 * OpenTelemetry through the SDK's in-memory exporter. Both must report exactly what stats()
 * says, under the documented names.
 */
import { metrics as otelMetrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type HistogramMetricData,
} from '@opentelemetry/sdk-metrics';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, expect, test } from 'vitest';
import { createSSEFetchHandler } from '../../src/adapters/fetch.js';
import type { SSECore } from '../../src/server/core.js';
import { prometheusMetrics, registerOpenTelemetryMetrics, type OpenTelemetryMeter } from '../../src/server/index.js';
import { LAG_BUCKETS_SECONDS } from '../../src/server/observability/histogram.js';
import { STREAM_CLOSE_CHANNEL } from '../../src/server/observability/channels.js';
import { ChannelRecorder, observedRouter, StreamReader } from './harness.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server that has done something: 3 subscribers took 2 log events, one stream left, one request failed to start. */
async function busyCore(): Promise<{
  core: SSECore;
  publish: (n: number) => Promise<string>;
  fetchHandler: (req: Request) => Promise<Response>;
}> {
  const { router, log } = observedRouter();
  const handler = createSSEFetchHandler({ router, endpoint: '/trpc', heartbeatMs: 3_600_000 });
  cleanups.push(
    () => handler.core.close(),
    () => log.close(),
  );
  const open = async () => {
    const response = await handler(new Request('http://x/trpc/feed', { headers: { accept: 'text/event-stream' } }));
    return StreamReader.fromResponse(response);
  };
  const readers = await Promise.all([open(), open(), open()]);
  for (const reader of readers) await reader.until('checkpoint', 1);
  await log.publish('feed', { n: 1 });
  await log.publish('feed', { n: 2 });
  for (const reader of readers) await reader.until('message', 2);
  const recorder = new ChannelRecorder();
  cleanups.push(() => recorder.close());
  readers[0].cancel();
  await recorder.until(STREAM_CLOSE_CHANNEL, 1);
  await (await handler(new Request('http://x/trpc/nope', { headers: { accept: 'text/event-stream' } }))).text();
  return { core: handler.core, publish: (n) => log.publish('feed', { n }), fetchHandler: handler };
}

test('prometheusMetrics: the text parses, with the documented names, types and labels, and the values of stats()', async () => {
  const { core } = await busyCore();
  const text = prometheusMetrics(core, { labels: { server: 'a "quoted"\\ \nname' } });
  const stats = core.stats();
  const families = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
  const value = (name: string, labels: Record<string, string> = {}) => {
    const family = families.get(name);
    expect(family, name).toBeDefined();
    const sample = family!.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    expect(sample, `${name} ${JSON.stringify(labels)}`).toBeDefined();
    // The constant label survives escaping.
    expect(sample!.labels?.['server']).toBe('a "quoted"\\ \nname');
    return Number(sample!.value);
  };
  expect(families.get('trpc_sse_connections')?.type).toBe('GAUGE');
  expect(value('trpc_sse_connections', { mode: 'distinct' })).toBe(2);
  expect(value('trpc_sse_connections', { mode: 'multiplexed' })).toBe(0);
  expect(value('trpc_sse_subscriptions', { mode: 'distinct' })).toBe(2);
  expect(value('trpc_sse_connections_detached')).toBe(0);
  expect(families.get('trpc_sse_resumes_total')?.type).toBe('COUNTER');
  expect(value('trpc_sse_resumes_total', { source: 'replay' })).toBe(0);
  expect(value('trpc_sse_resets_total', { reason: 'trimmed' })).toBe(0);
  expect(value('trpc_sse_disconnects_total', { reason: 'client' })).toBe(1);
  expect(value('trpc_sse_subscriptions_ended_total', { outcome: 'stopped' })).toBe(1);
  expect(value('trpc_sse_subscription_start_failures_total')).toBe(1);
  expect(value('trpc_sse_control_requests_total', { result: 'ok' })).toBe(0);
  expect(value('trpc_sse_events_delivered_total')).toBe(6);
  expect(value('trpc_sse_bytes_sent_total')).toBe(stats.bytesSent);
  expect(stats.bytesSent).toBeGreaterThan(0);
  // This parser drops a histogram's _sum and _count when they carry labels: read it unlabelled.
  const plain = parsePrometheusTextFormat(prometheusMetrics(core));
  const lag = plain.find((family) => family.name === 'trpc_sse_delivery_lag_seconds');
  expect(lag?.type).toBe('HISTOGRAM');
  const histogram = lag!.metrics[0]!;
  expect(Number(histogram.count)).toBe(6);
  expect(Number(histogram.sum)).toBe(stats.deliveryLag.sum);
  // (Integer-like keys come first in a JS object: compare as sets.)
  expect(new Set(Object.keys(histogram.buckets!))).toEqual(new Set([...LAG_BUCKETS_SECONDS.map(String), '+Inf']));
  LAG_BUCKETS_SECONDS.forEach((bound, i) =>
    expect(Number(histogram.buckets![String(bound)])).toBe(stats.deliveryLag.counts[i]),
  );
  expect(histogram.buckets!['+Inf']).toBe('6');
  // Every family has help and a type; every counter ends in _total.
  for (const family of families.values()) {
    expect(family.help.length, family.name).toBeGreaterThan(0);
    if (family.type === 'COUNTER') expect(family.name).toMatch(/_total$/);
    expect(family.name).toMatch(/^trpc_sse_/);
  }
});

test('registerOpenTelemetryMetrics: the in-memory exporter gets the figures of stats() and the lag histogram', async () => {
  const { core, publish, fetchHandler } = await busyCore();
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // An interval no test waits for: the export below is forced.
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  cleanups.push(() => provider.shutdown());
  const meter: OpenTelemetryMeter = provider.getMeter('trpc-sse-test');
  // The API's own Meter type fits the bridge's structural one.
  const apiMeter: OpenTelemetryMeter = otelMetrics.getMeter('unused');
  expect(apiMeter).toBeDefined();
  const registration = registerOpenTelemetryMetrics(core, meter, { attributes: { server: 'api' } });

  // Lag is recorded as events are written from now on: one more event, two subscribers left.
  const late = StreamReader.fromResponse(
    await fetchHandler(new Request('http://x/trpc/feed', { headers: { accept: 'text/event-stream' } })),
  );
  await late.until('checkpoint', 1);
  await publish(3);
  await late.until('message', 1);

  await reader.forceFlush();
  const stats = core.stats();
  const exported = exporter
    .getMetrics()
    .at(-1)!
    .scopeMetrics.flatMap((scope) => scope.metrics);
  const byName = new Map(exported.map((metric) => [metric.descriptor.name, metric]));
  const point = (name: string, attributes: Record<string, string> = {}) => {
    const metric = byName.get(name);
    expect(metric, name).toBeDefined();
    const found = metric!.dataPoints.find((p) =>
      Object.entries({ server: 'api', ...attributes }).every(([k, v]) => p.attributes[k] === v),
    );
    expect(found, `${name} ${JSON.stringify(attributes)}`).toBeDefined();
    return found!.value;
  };
  expect(point('trpc_sse.connections', { mode: 'distinct' })).toBe(stats.connections.distinct);
  expect(stats.connections.distinct).toBe(3);
  expect(point('trpc_sse.events_delivered')).toBe(9);
  expect(point('trpc_sse.bytes_sent')).toBe(stats.bytesSent);
  expect(byName.get('trpc_sse.bytes_sent')!.descriptor.unit).toBe('By');
  expect(point('trpc_sse.disconnects', { reason: 'client' })).toBe(1);
  expect(point('trpc_sse.subscription.start_failures')).toBe(1);
  expect(byName.get('trpc_sse.resumes')!.dataPointType).toBe(DataPointType.SUM);
  expect(byName.get('trpc_sse.connections')!.dataPointType).toBe(DataPointType.GAUGE);

  const lag = byName.get('trpc_sse.delivery_lag') as HistogramMetricData;
  expect(lag.dataPointType).toBe(DataPointType.HISTOGRAM);
  expect(lag.descriptor.unit).toBe('s');
  const histogram = lag.dataPoints[0]!;
  // Only what was written after registering: event 3, to three subscribers.
  expect(histogram.value.count).toBe(3);
  expect(histogram.value.buckets.boundaries).toEqual(LAG_BUCKETS_SECONDS);

  // Unregistered, the lag of later events is no longer recorded.
  registration.unregister();
  await publish(4);
  await late.until('message', 2);
  exporter.reset();
  await reader.forceFlush();
  const after = exporter
    .getMetrics()
    .at(-1)!
    .scopeMetrics.flatMap((scope) => scope.metrics);
  const lagAfter = after.find((metric) => metric.descriptor.name === 'trpc_sse.delivery_lag') as HistogramMetricData;
  expect(lagAfter.dataPoints[0]!.value.count).toBe(3);
  expect(core.stats().deliveryLag.count).toBe(12);
});
