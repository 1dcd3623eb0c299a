import type { AnyTRPCRouter, inferRouterContext } from '@trpc/server';
import type { TRPCRequestInfo } from '@trpc/server/http';
import { nodeHTTPRequestHandler, type NodeHTTPHandlerOptions } from '@trpc/server/adapters/node-http';
import { createSSECore, type SSECore } from '../server/core.js';
import type { RequestHooks, SSEServerOptions } from '../server/options.js';
import { isHttp2, nodeResponseSink, toSSERequest, type NodeRequest, type NodeResponse } from './nodeStream.js';

/** Options of tRPC's own HTTP handler, used for queries and mutations. */
export type TRPCHandlerOptions<TRouter extends AnyTRPCRouter> = Pick<
  NodeHTTPHandlerOptions<TRouter, NodeRequest, NodeResponse>,
  'maxBodySize' | 'allowBatching' | 'allowMethodOverride' | 'responseMeta'
>;

/** Options shared by the Node and Express adapters. */
export interface NodeAdapterOptions<TRouter extends AnyTRPCRouter, TRequest extends NodeRequest, TResponse extends NodeResponse>
  extends SSEServerOptions<TRouter, TRequest> {
  /**
   * Builds the context, as tRPC's node adapters do: `{ req, res, info }`. For a stream it runs
   * once, before the procedure; `info.connectionParams` holds the client's `connectionParams`.
   * @default () => ({})
   */
  createContext?: (opts: { req: TRequest; res: TResponse; info: TRPCRequestInfo }) =>
    | inferRouterContext<TRouter>
    | Promise<inferRouterContext<TRouter>>;
  /**
   * Serve the router's queries and mutations too, through tRPC's own HTTP handler (with these
   * options), so one handler replaces tRPC's adapter. `false` leaves them to the caller.
   * @default {}
   */
  queriesAndMutations?: TRPCHandlerOptions<TRouter> | false;
}

/**
 * The request handling both Node adapters share, given the procedure path. Resolves `true`
 * when it answered the request, `false` when it is not one of ours (only possible with
 * `queriesAndMutations: false`).
 */
export function createNodeDispatcher<TRouter extends AnyTRPCRouter, TRequest extends NodeRequest, TResponse extends NodeResponse>(
  opts: NodeAdapterOptions<TRouter, TRequest, TResponse>,
): { core: SSECore; dispatch(req: TRequest, res: TResponse, path: string): Promise<boolean> } {
  const core = createSSECore(opts);
  const createContext = async (req: TRequest, res: TResponse, info: TRPCRequestInfo): Promise<unknown> =>
    opts.createContext ? await opts.createContext({ req, res, info }) : {};

  async function dispatch(req: TRequest, res: TResponse, path: string): Promise<boolean> {
    const sseReq = toSSERequest(req, res, path);
    const kind = await core.classify(sseReq);
    if (kind !== null) {
      const hooks: RequestHooks = {
        http2: isHttp2(req),
        createContext: (info) => createContext(req, res, info),
        onError: (err) => opts.onError?.({ ...err, req } as Parameters<NonNullable<typeof opts.onError>>[0]),
      };
      if (kind === 'stream') {
        await core.serveStream(sseReq, nodeResponseSink(res), hooks);
      } else {
        const answer = await core.handleControl(sseReq, hooks);
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      }
      return true;
    }
    if (opts.queriesAndMutations === false) return false;
    await nodeHTTPRequestHandler({
      ...opts.queriesAndMutations,
      router: opts.router,
      req,
      res,
      path,
      createContext: ({ info }: { info: TRPCRequestInfo }) => createContext(req, res, info),
      ...(opts.onError ? { onError: opts.onError } : {}),
    } as unknown as Parameters<typeof nodeHTTPRequestHandler>[0]);
    return true;
  }

  return { core, dispatch };
}
