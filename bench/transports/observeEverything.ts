/**
 * The observability scenario's "on" setting: a listener on every diagnostics channel of the
 * server (tracing channels included) and the figures read as a scraper would, every second
 * (`prometheusMetrics`, which calls `core.stats()`). The listeners only count, so what is
 * measured is what the server pays to publish, not what an exporter does with it.
 */
import diagnostics from 'node:diagnostics_channel';
import {
  CONNECTION_OPEN_CHANNEL,
  CONTROL_CHANNEL,
  DRAIN_CHANNEL,
  LOG_PUBLISH_CHANNEL,
  prometheusMetrics,
  RESET_CHANNEL,
  RESUME_CHANNEL,
  SLOW_CONSUMER_CHANNEL,
  STREAM_CLOSE_CHANNEL,
  STREAM_OPEN_CHANNEL,
  SUBSCRIPTION_END_CHANNEL,
  SUBSCRIPTION_START_CHANNEL,
  type SSECore,
} from 'trpc-sse/server';

const POINT = [
  STREAM_OPEN_CHANNEL,
  STREAM_CLOSE_CHANNEL,
  SUBSCRIPTION_END_CHANNEL,
  RESUME_CHANNEL,
  RESET_CHANNEL,
  DRAIN_CHANNEL,
  SLOW_CONSUMER_CHANNEL,
];
const TRACING = [CONNECTION_OPEN_CHANNEL, SUBSCRIPTION_START_CHANNEL, CONTROL_CHANNEL, LOG_PUBLISH_CHANNEL];

/** Starts listening; returns how many messages the listeners have had so far. */
export function observeEverything(core: SSECore): () => number {
  let messages = 0;
  const count = (): void => {
    messages++;
  };
  for (const name of POINT) diagnostics.subscribe(name, count);
  for (const name of TRACING) {
    diagnostics
      .tracingChannel(name)
      .subscribe({ start: count, end: count, asyncStart: count, asyncEnd: count, error: count });
  }
  const scrape = setInterval(() => prometheusMetrics(core), 1000);
  scrape.unref();
  return () => messages;
}
