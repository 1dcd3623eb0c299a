import type { AnyTRPCRouter, inferRouterContext } from '@trpc/server';
import type { TRPCRequestInfo } from '@trpc/server/http';
import { nodeHTTPRequestHandler, type NodeHTTPHandlerOptions } from '@trpc/server/adapters/node-http';
import { createSSECore, type RequestKind, type SSECore } from '../server/core.js';
import type { RequestHooks, SSEServerOptions } from '../server/options.js';
import {
  bodyStreamConsumed,
  isHttp2,
  NodeResponseSink,
  NodeSSERequest,
  type NodeRequest,
  type NodeResponse,
} from './nodeStream.js';

/** Options of tRPC's own HTTP handler, used for queries and mutations. */
export type TRPCHandlerOptions<TRouter extends AnyTRPCRouter> = Pick<
  NodeHTTPHandlerOptions<TRouter, NodeRequest, NodeResponse>,
  'maxBodySize' | 'allowBatching' | 'allowMethodOverride' | 'responseMeta'
>;

/** Options shared by the Node and Express adapters. */
export interface NodeAdapterOptions<
  TRouter extends AnyTRPCRouter,
  TRequest extends NodeRequest,
  TResponse extends NodeResponse,
> extends SSEServerOptions<TRouter, TRequest> {
  /**
   * Builds the context, as tRPC's node adapters do: `{ req, res, info }`. For a stream it runs
   * once, before the procedure; `info.connectionParams` holds the client's `connectionParams`.
   * @default () => ({})
   */
  createContext?: (opts: {
    req: TRequest;
    res: TResponse;
    info: TRPCRequestInfo;
  }) => inferRouterContext<TRouter> | Promise<inferRouterContext<TRouter>>;
  /**
   * Serve the router's queries and mutations too, through tRPC's own HTTP handler (with these
   * options), so one handler replaces tRPC's adapter. `false` leaves them to the caller.
   * @default {}
   */
  queriesAndMutations?: TRPCHandlerOptions<TRouter> | false;
}

/**
 * What the core calls back for one request: `createContext` and `onError` with this
 * request's `req` and `res`. A multiplexed connection keeps it for its whole life, so it is
 * an instance with its methods on the prototype, not an object of closures.
 */
class NodeRequestHooks<
  TRouter extends AnyTRPCRouter,
  TRequest extends NodeRequest,
  TResponse extends NodeResponse,
> implements RequestHooks {
  readonly #opts: NodeAdapterOptions<TRouter, TRequest, TResponse>;
  readonly #req: TRequest;
  readonly #res: TResponse;

  constructor(opts: NodeAdapterOptions<TRouter, TRequest, TResponse>, req: TRequest, res: TResponse) {
    this.#opts = opts;
    this.#req = req;
    this.#res = res;
  }

  get http2(): boolean {
    return isHttp2(this.#req);
  }

  createContext(info: TRPCRequestInfo): Promise<unknown> {
    return createNodeContext(this.#opts, this.#req, this.#res, info);
  }

  onError(err: Parameters<RequestHooks['onError']>[0]): void {
    this.#opts.onError?.({ ...err, req: this.#req });
  }
}

async function createNodeContext<
  TRouter extends AnyTRPCRouter,
  TRequest extends NodeRequest,
  TResponse extends NodeResponse,
>(
  opts: NodeAdapterOptions<TRouter, TRequest, TResponse>,
  req: TRequest,
  res: TResponse,
  info: TRPCRequestInfo,
): Promise<unknown> {
  return opts.createContext ? await opts.createContext({ req, res, info }) : {};
}

/**
 * Runs tRPC's handler with `req.body` as it must see it. tRPC takes any `body` property of the
 * request in place of the stream (a string as it is, anything else through `JSON.stringify`),
 * so a placeholder a body parser set without reading the stream (body-parser 1 leaves `{}`,
 * body-parser 2 `undefined`) would hide the real body, and bytes from `express.raw()` would
 * reach the procedure as `{"type":"Buffer",…}`. The request's own `body` is put back once
 * tRPC has answered, for whatever runs after it (an Express error handler).
 */
async function withBodyForTRPC(req: NodeRequest, run: () => Promise<void>): Promise<void> {
  const holder = req as { body?: unknown };
  if (req.method === 'GET' || req.method === 'HEAD' || !Object.hasOwn(holder, 'body')) return run();
  const body = holder.body;
  if (!bodyStreamConsumed(req)) {
    // The stream still holds the whole body: tRPC reads it.
    delete holder.body;
  } else if (body instanceof Uint8Array) {
    holder.body = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  } else {
    return run();
  }
  try {
    await run();
  } finally {
    holder.body = body;
  }
}

/** What an adapter does with a request that is not one of ours (404, or Express's `next()`). */
export type Unhandled<TRequest extends NodeRequest, TResponse extends NodeResponse> = (
  req: TRequest,
  res: TResponse,
) => void;

/**
 * The request handling both Node adapters share, given the procedure path. Resolves once the
 * request is answered (a stream: once it has ended), rejects when that failed; a request
 * that is not one of ours (only possible with `queriesAndMutations: false`) is handed to
 * `unhandled`.
 *
 * A stream's promise is the core's own: an open stream holds no suspended function and no
 * closure here. A stream is started as soon as the request is classified, which is at once
 * unless finding that out needs a router lookup.
 */
export function createNodeDispatcher<
  TRouter extends AnyTRPCRouter,
  TRequest extends NodeRequest,
  TResponse extends NodeResponse,
>(
  opts: NodeAdapterOptions<TRouter, TRequest, TResponse>,
): {
  core: SSECore;
  dispatch(req: TRequest, res: TResponse, path: string, unhandled: Unhandled<TRequest, TResponse>): Promise<void>;
} {
  const core = createSSECore(opts);

  function answer(
    kind: RequestKind,
    sseReq: NodeSSERequest,
    req: TRequest,
    res: TResponse,
    unhandled: Unhandled<TRequest, TResponse>,
  ): Promise<void> {
    if (kind === 'stream')
      return core.serveStream(sseReq, new NodeResponseSink(res), new NodeRequestHooks(opts, req, res));
    return kind === 'control' ? answerControl(sseReq, req, res) : answerOther(sseReq, req, res, unhandled);
  }

  async function answerControl(sseReq: NodeSSERequest, req: TRequest, res: TResponse): Promise<void> {
    const answer = await core.handleControl(sseReq, new NodeRequestHooks(opts, req, res));
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  }

  async function answerOther(
    sseReq: NodeSSERequest,
    req: TRequest,
    res: TResponse,
    unhandled: Unhandled<TRequest, TResponse>,
  ): Promise<void> {
    if (opts.queriesAndMutations === false) {
      unhandled(req, res);
      return;
    }
    await withBodyForTRPC(req, () =>
      nodeHTTPRequestHandler({
        ...opts.queriesAndMutations,
        router: opts.router,
        req,
        res,
        path: sseReq.path,
        createContext: ({ info }: { info: TRPCRequestInfo }) => createNodeContext(opts, req, res, info),
        ...(opts.onError ? { onError: opts.onError } : {}),
      } as unknown as Parameters<typeof nodeHTTPRequestHandler>[0]),
    );
  }

  function dispatch(
    req: TRequest,
    res: TResponse,
    path: string,
    unhandled: Unhandled<TRequest, TResponse>,
  ): Promise<void> {
    try {
      // Going away: every answer tells HTTP/1.1 clients to open a new connection next time,
      // which the balancer sends to another process (the fetch adapter does the same).
      if (core.shuttingDown && !isHttp2(req)) res.setHeader('Connection', 'close');
      const sseReq = new NodeSSERequest(req, res, path);
      const kind = core.classify(sseReq);
      if (kind instanceof Promise) return kind.then((resolved) => answer(resolved, sseReq, req, res, unhandled));
      return answer(kind, sseReq, req, res, unhandled);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  return { core, dispatch };
}
