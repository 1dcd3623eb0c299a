/**
 * `trpc-sse/server`: the framework-free core and the types adapters share.
 * @module
 */
export { createSSECore, type SSECore } from './core.js';
export type { SSEServerStats } from './observability/stats.js';
export type { HistogramSnapshot } from './observability/histogram.js';
export * from './observability/channels.js';
export { prometheusMetrics, type PrometheusMetricsOptions } from './observability/prometheus.js';
export {
  registerOpenTelemetryMetrics,
  type OpenTelemetryBatchResult,
  type OpenTelemetryInstrumentOptions,
  type OpenTelemetryMeter,
  type OpenTelemetryMetricsOptions,
  type OpenTelemetryRegistration,
} from './observability/openTelemetry.js';
export type { HeadersLike, PlainResponse, SSERequest, SSEResponseSink } from './request.js';
export {
  SSE_SERVER_DEFAULTS,
  type BoundCreateContext,
  type RequestHooks,
  type SSEErrorHandlerOptions,
  type SSECoreOptions,
  type SSEServerOptions,
} from './options.js';
export { TRPC_SSE_EVENT, type ConnectedEventData } from './dialect.js';
export type { ConnectionDirectory, ForwardedControl } from './multiplexed/directory.js';
export { createMemoryEventLog, type MemoryEventLogOptions } from '../log/memoryEventLog.js';
export type { EventLog, EventLogSubscribeOptions } from '../log/types.js';
export { createReset, isReset, type ResetReason, type ResetSignal } from '../log/reset.js';
export { formatEventId, parseEventId, type EventId } from '../log/eventId.js';
export { CORS_METHODS, CORS_REQUEST_HEADERS, MUX_PATH } from '../protocol.js';
export {
  drainForShutdown,
  installGracefulShutdown,
  type ClosableServer,
  type DrainForShutdownOptions,
  type DrainOutcome,
  type GracefulShutdown,
  type GracefulShutdownOptions,
  type ShutdownServer,
  type ShutdownSignal,
  type ShutdownTarget,
  type ShutdownableServer,
  type StoppableServer,
} from './shutdown.js';
