import { serveDistinctStream } from './distinctStream.js';
import { StreamEnvironment } from './environment.js';
import { handleControlRequest, handleForwardedControl } from './multiplexed/controlRequest.js';
import { ConnectionRegistry } from './multiplexed/registry.js';
import { serveMultiplexedStream } from './multiplexed/streamRequest.js';
import type { RequestHooks, SSECoreOptions } from './options.js';
import { findProcedure } from './procedures.js';
import type { PlainResponse, SSERequest, SSEResponseSink } from './request.js';
import { MUX_PATH } from '../protocol.js';
import { resolveServerOptions, type ResolvedServerOptions } from './resolveOptions.js';
import type { SSEServerStats } from './observability/stats.js';

/** How the core handles a request: an event stream, a control request, or not at all (tRPC's handler). */
export type RequestKind = 'stream' | 'control' | null;

/** Options of {@link SSECore.drain}. */
export interface DrainOptions {
  /**
   * Clients are asked to move within this window, each at a random moment in it, so they do
   * not all hit the next server at once.
   * @default 5_000
   */
  withinMs?: number;
  /**
   * Also refuse new streams from now on (`SERVICE_UNAVAILABLE`, which clients retry with
   * backoff): for a process that is going away, so clients land elsewhere.
   * @default false (a rebalance: this process keeps serving)
   */
  refuseNew?: boolean;
}

/** The framework-free server: adapters ask it what a request is, and let it answer. */
export interface SSECore {
  readonly options: ResolvedServerOptions;
  /**
   * `'stream'`: an event stream (the multiplexed stream at `{endpoint}/trpc-sse`, or a
   * distinct-mode subscription); `'control'`: a multiplexed control request; `null`:
   * everything else (queries, mutations, batches), which belongs to tRPC's own handler.
   */
  classify(req: SSERequest): RequestKind | Promise<RequestKind>;
  /** Serves an event stream; resolves when it has ended. Never rejects. */
  serveStream(req: SSERequest, sink: SSEResponseSink, hooks: RequestHooks): Promise<void>;
  /** Answers a control request. Never rejects. */
  handleControl(req: SSERequest, hooks: RequestHooks): Promise<PlainResponse>;
  /** Event streams open now (both modes). */
  readonly openStreams: number;
  /** Multiplexed connections held now, with or without a stream attached. */
  readonly connections: number;
  /**
   * `true` once `drain({ refuseNew: true })` was called: the process is going away. New
   * streams are refused, and the fetch adapter answers every request with
   * `Connection: close`, so a client's next request opens a new connection (through the
   * balancer, to another process) instead of coming back here on a kept-alive one.
   */
  readonly shuttingDown: boolean;
  /**
   * Ends every open stream without `return`, so each client reconnects and resumes
   * (multiplexed connections stay for `graceMs`, so a client coming back here resumes them).
   */
  closeAllStreams(): void;
  /**
   * Asks every client to reconnect within `withinMs` (a deploy, a rebalance): multiplexed
   * clients get a `reconnect` event and hand over to a new connection with no gap; distinct
   * streams end without `return` at a random moment in the window and resume.
   */
  drain(opts?: DrainOptions): void;
  /** Ends everything for good: streams, connections and their procedures, timers. */
  close(): void;
  /**
   * The server's figures since it was created: connections, subscriptions, resumes, resets,
   * disconnects by reason, control requests, bytes, delivery lag (README, "Observability").
   * A fresh object on every call; counting costs a few increments per event, reading it
   * nothing until called.
   */
  stats(): SSEServerStats;
  /**
   * Calls `listener` with the delivery lag of every event written from an event log (seconds
   * from publish to write): for a histogram of another metrics system (the OpenTelemetry
   * bridge uses it). It runs once per delivered event, so keep it cheap. Returns its removal.
   */
  observeDeliveryLag(listener: (seconds: number) => void): () => void;
}

function acceptsEventStream(req: SSERequest): boolean {
  return req.headers.get('accept')?.includes('text/event-stream') ?? false;
}

/**
 * The multiplexed protocol lives at `{endpoint}/trpc-sse` ({@link MUX_PATH}), which every
 * router that forwards the endpoint's children reaches, and, for clients of 0.1, at the
 * endpoint itself (an empty path, which tRPC never uses).
 */
function isMultiplexedPath(path: string): boolean {
  return path === MUX_PATH || path === '';
}

/** A router whose own procedure sits where the multiplexed protocol does could never be reached. */
function assertPathIsFree(router: SSECoreOptions['router']): void {
  const procedures = (router._def as { procedures?: Record<string, unknown> }).procedures ?? {};
  if (Object.prototype.hasOwnProperty.call(procedures, MUX_PATH)) {
    throw new Error(
      `trpc-sse: the router has a procedure at "${MUX_PATH}", the path of trpc-sse's multiplexed stream; rename it`,
    );
  }
}

/** Builds the core for one router. Adapters create one per handler. */
export function createSSECore(opts: SSECoreOptions): SSECore {
  assertPathIsFree(opts.router);
  const options = resolveServerOptions(opts);
  const env = new StreamEnvironment(options);
  const registry = new ConnectionRegistry(env, opts.connectionDirectory);
  opts.connectionDirectory?.serve((request) => handleForwardedControl(env, registry, request));
  const drainTimers = new Set<ReturnType<typeof setTimeout>>();
  let shuttingDown = false;
  return {
    options,
    classify(req) {
      if (isMultiplexedPath(req.path)) {
        if (req.method === 'GET') return 'stream';
        if (req.method === 'POST') return 'control';
        return null;
      }
      if (req.method !== 'GET') return null;
      // EventSource and our client always say so; no lookup needed on the hot path.
      if (acceptsEventStream(req)) return 'stream';
      // A plain GET (curl, a proxy health check) to a subscription still gets a stream.
      return findProcedure(options.router, req.path).then(
        (procedure) => (procedure?._def.type === 'subscription' ? 'stream' : null),
        () => null,
      );
    },
    serveStream(req, sink, hooks) {
      // Returned, not awaited: an open stream holds no suspended function here.
      const served = isMultiplexedPath(req.path)
        ? serveMultiplexedStream(env, registry, req, sink, hooks)
        : serveDistinctStream(env, req, sink, hooks);
      // Both report failures in-band; this only guards the adapter.
      return served.catch(() => sink.end());
    },
    handleControl(req, hooks) {
      return handleControlRequest(env, registry, req, hooks, opts.connectionDirectory);
    },
    get openStreams() {
      return env.openStreams;
    },
    get connections() {
      return registry.size;
    },
    get shuttingDown() {
      return shuttingDown;
    },
    closeAllStreams() {
      env.closeAll();
    },
    drain({ withinMs = 5_000, refuseNew = false } = {}) {
      if (refuseNew) {
        env.refuseNew();
        shuttingDown = true;
      }
      const connections = registry.all();
      const distinctStreams = env.distinctStreams();
      for (const connection of connections) connection.requestReconnect(Math.floor(Math.random() * withinMs));
      for (const stream of distinctStreams) {
        const timer = setTimeout(
          () => {
            drainTimers.delete(timer);
            stream.close('drain');
          },
          Math.floor(Math.random() * withinMs),
        );
        drainTimers.add(timer);
      }
      env.monitor.drained({
        withinMs,
        refuseNew,
        connections: connections.length,
        distinctStreams: distinctStreams.length,
      });
    },
    close() {
      for (const timer of drainTimers) clearTimeout(timer);
      drainTimers.clear();
      for (const connection of registry.all()) connection.close('shutdown');
      env.closeAll();
    },
    stats() {
      return env.monitor.snapshot(registry.size);
    },
    observeDeliveryLag(listener) {
      return env.monitor.onLag(listener);
    },
  };
}
