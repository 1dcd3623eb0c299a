import type { SSEServerStats } from './stats.js';

/** One figure of a family: its labels and value. */
export interface MetricSample {
  labels: Readonly<Record<string, string>>;
  value: number;
}

/**
 * A metric as both bridges name it: Prometheus (`trpc_sse_…`, `_total` for counters, units in
 * names) and OpenTelemetry (`trpc_sse.…`, the unit apart). The delivery-lag histogram is not
 * here: each bridge renders it its own way.
 */
export interface MetricFamily {
  prometheusName: string;
  openTelemetryName: string;
  kind: 'gauge' | 'counter';
  /** UCUM, as OpenTelemetry wants it: `By`, `s`, or a `{count}` annotation. */
  unit: string;
  help: string;
  samples: MetricSample[];
}

function byLabel(label: string, counts: Readonly<Record<string, number>>): MetricSample[] {
  return Object.entries(counts).map(([key, value]) => ({ labels: { [label]: key }, value }));
}

const one = (value: number): MetricSample[] => [{ labels: {}, value }];

/** The server's figures as metric families, in a fixed order. */
export function metricFamilies(stats: SSEServerStats): MetricFamily[] {
  return [
    {
      prometheusName: 'trpc_sse_connections',
      openTelemetryName: 'trpc_sse.connections',
      kind: 'gauge',
      unit: '{connection}',
      help: 'Open event streams by wire mode (multiplexed: connections with a stream attached).',
      samples: byLabel('mode', stats.connections),
    },
    {
      prometheusName: 'trpc_sse_connections_detached',
      openTelemetryName: 'trpc_sse.connections.detached',
      kind: 'gauge',
      unit: '{connection}',
      help: 'Multiplexed connections without a stream, held for graceMs so their client can resume.',
      samples: one(stats.detachedConnections),
    },
    {
      prometheusName: 'trpc_sse_subscriptions',
      openTelemetryName: 'trpc_sse.subscriptions',
      kind: 'gauge',
      unit: '{subscription}',
      help: 'Subscriptions running (their procedure started), by wire mode.',
      samples: byLabel('mode', stats.subscriptions),
    },
    {
      prometheusName: 'trpc_sse_subscriptions_ended_total',
      openTelemetryName: 'trpc_sse.subscriptions.ended',
      kind: 'counter',
      unit: '{subscription}',
      help: 'Subscriptions that ended after starting, by outcome (completed, failed, overflow, stopped).',
      samples: byLabel('outcome', stats.subscriptionsEnded),
    },
    {
      prometheusName: 'trpc_sse_subscription_start_failures_total',
      openTelemetryName: 'trpc_sse.subscription.start_failures',
      kind: 'counter',
      unit: '{subscription}',
      help: 'Subscriptions that never started (unknown path, bad input, context or procedure threw, limits).',
      samples: one(stats.subscriptionStartFailures),
    },
    {
      prometheusName: 'trpc_sse_resumes_total',
      openTelemetryName: 'trpc_sse.resumes',
      kind: 'counter',
      unit: '{resume}',
      help: 'Successful resumes: replay (a multiplexed connection from its replay buffer) or log (a subscription from its last id).',
      samples: byLabel('source', stats.resumes),
    },
    {
      prometheusName: 'trpc_sse_replay_misses_total',
      openTelemetryName: 'trpc_sse.replay_misses',
      kind: 'counter',
      unit: '{resume}',
      help: 'Multiplexed resumes that got a new connection instead, by reason (unknown, trimmed, forbidden).',
      samples: byLabel('reason', stats.replayMisses),
    },
    {
      prometheusName: 'trpc_sse_resets_total',
      openTelemetryName: 'trpc_sse.resets',
      kind: 'counter',
      unit: '{reset}',
      help: 'Resets sent to subscriptions whose position was lost, by reason (trimmed, unknown, epoch).',
      samples: byLabel('reason', stats.resets),
    },
    {
      prometheusName: 'trpc_sse_disconnects_total',
      openTelemetryName: 'trpc_sse.disconnects',
      kind: 'counter',
      unit: '{connection}',
      help: 'Streams that ended, by reason (client, ended, slow, maxDuration, drain, shutdown, replaced).',
      samples: byLabel('reason', stats.disconnects),
    },
    {
      prometheusName: 'trpc_sse_slow_consumer_pauses_total',
      openTelemetryName: 'trpc_sse.slow_consumer.pauses',
      kind: 'counter',
      unit: '{pause}',
      help: "Times a stream's writer waited for a slow reader's socket to drain.",
      samples: one(stats.slowConsumerPauses),
    },
    {
      prometheusName: 'trpc_sse_control_requests_total',
      openTelemetryName: 'trpc_sse.control_requests',
      kind: 'counter',
      unit: '{request}',
      help: 'Multiplexed control requests answered, by result (ok, or the error code: forbidden, not_found, …).',
      samples: byLabel('result', stats.controlRequests),
    },
    {
      prometheusName: 'trpc_sse_bytes_sent_total',
      openTelemetryName: 'trpc_sse.bytes_sent',
      kind: 'counter',
      unit: 'By',
      help: 'Bytes written to event streams (UTF-8, before compression): events, pings, replays.',
      samples: one(stats.bytesSent),
    },
    {
      prometheusName: 'trpc_sse_events_delivered_total',
      openTelemetryName: 'trpc_sse.events_delivered',
      kind: 'counter',
      unit: '{event}',
      help: 'Values written for subscriptions (replays not counted again).',
      samples: one(stats.eventsDelivered),
    },
    {
      prometheusName: 'trpc_sse_drains_total',
      openTelemetryName: 'trpc_sse.drains',
      kind: 'counter',
      unit: '{drain}',
      help: 'Calls of core.drain().',
      samples: one(stats.drains),
    },
    {
      prometheusName: 'trpc_sse_reconnects_requested_total',
      openTelemetryName: 'trpc_sse.reconnects_requested',
      kind: 'counter',
      unit: '{connection}',
      help: 'Clients asked to move by a drain (multiplexed reconnect events, distinct streams ended).',
      samples: one(stats.reconnectsRequested),
    },
  ];
}
