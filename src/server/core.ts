import { serveDistinctStream } from './distinctStream.js';
import { StreamEnvironment } from './environment.js';
import type { RequestHooks, SSECoreOptions } from './options.js';
import { findProcedure } from './procedures.js';
import type { SSERequest, SSEResponseSink } from './request.js';
import { resolveServerOptions, type ResolvedServerOptions } from './resolveOptions.js';

/** The framework-free server: adapters ask it whether a request is a stream, and let it serve one. */
export interface SSECore {
  readonly options: ResolvedServerOptions;
  /**
   * Whether the core serves this request as an event stream. Everything else (queries,
   * mutations, batches) belongs to tRPC's own HTTP handler.
   */
  isStreamRequest(req: SSERequest): boolean | Promise<boolean>;
  /** Serves an event stream; resolves when it has ended. Never rejects. */
  serveStream(req: SSERequest, sink: SSEResponseSink, hooks: RequestHooks): Promise<void>;
  /** Number of streams open now. */
  readonly openStreams: number;
  /**
   * Ends every open stream without `return`, so each client reconnects and resumes
   * (elsewhere, during a deploy), and stops the heartbeat.
   */
  closeAllStreams(): void;
}

function acceptsEventStream(req: SSERequest): boolean {
  return req.headers.get('accept')?.includes('text/event-stream') ?? false;
}

/** Builds the core for one router. Adapters create one per handler. */
export function createSSECore(opts: SSECoreOptions): SSECore {
  const options = resolveServerOptions(opts);
  const env = new StreamEnvironment(options);
  return {
    options,
    isStreamRequest(req) {
      if (req.method !== 'GET') return false;
      // EventSource and our client always say so; no lookup needed on the hot path.
      if (acceptsEventStream(req)) return true;
      // A plain GET (curl, a proxy health check) to a subscription still gets a stream.
      return findProcedure(options.router, req.path).then(
        (procedure) => procedure?._def.type === 'subscription',
        () => false,
      );
    },
    async serveStream(req, sink, hooks) {
      try {
        await serveDistinctStream(env, req, sink, hooks);
      } catch {
        // serveDistinctStream reports failures in-band; this only guards the adapter.
        sink.end();
      }
    },
    get openStreams() {
      return env.openStreams;
    },
    closeAllStreams() {
      env.closeAll();
    },
  };
}
