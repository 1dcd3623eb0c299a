import { tracingChannel } from '../shared/diagnosticsChannel.js';

/**
 * The tracing channel of `EventLog.publish` (`tracing:trpc-sse:log:publish:start`, `…:end`,
 * `…:asyncStart`, `…:asyncEnd`, `…:error`): one span per published event, which covers the
 * append and, for the memory log, the push to every reader in this process.
 */
export const LOG_PUBLISH_CHANNEL = 'trpc-sse:log:publish';

/** The context object of {@link LOG_PUBLISH_CHANNEL}: `result` is the event's id once it resolves. */
export interface LogPublishContext {
  /** Which log: `'memory'`, `'redis'`, … */
  log: string;
  topic: string;
  /** Set by `diagnostics_channel` when the publish resolves: the event's id. */
  result?: string;
  /** Set by `diagnostics_channel` when the publish rejects. */
  error?: unknown;
}

const publishChannel = tracingChannel<LogPublishContext>(LOG_PUBLISH_CHANNEL);

/** Runs `publish(topic, data)` as a traced operation when someone listens, else just runs it. */
export function tracePublish<T>(
  log: string,
  publish: (topic: string, data: T) => Promise<string>,
  topic: string,
  data: T,
): Promise<string> {
  if (!publishChannel.hasSubscribers) return publish(topic, data);
  return publishChannel.tracePromise(publish, { log, topic }, undefined, topic, data);
}
