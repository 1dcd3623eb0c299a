import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { StreamEnvironment } from '../environment.js';
import { reportFailure, type ErrorScope } from '../errorShape.js';
import type { RequestHooks } from '../options.js';
import type { PlainResponse, SSERequest } from '../request.js';
import { secretsMatch } from '../secret.js';
import { serializeErrorShape } from '../serialize.js';
import type { ConnectionDirectory, ForwardedControl } from './directory.js';
import { parseOps, type ValidControlOp } from './ops.js';
import type { ConnectionRegistry } from './registry.js';
import { MISDIRECTED_STATUS, MUX_HEADER } from '../../protocol.js';
import type { ControlContext } from '../observability/channels.js';

/** What a control request presents, wherever it arrived. */
interface ControlCredentials {
  connectionId: string | null;
  secret: string | null;
}

/**
 * Checks and applies a control request on the process that holds the connection.
 * `readBody` is called only once the request is authenticated.
 */
async function applyControl(
  env: StreamEnvironment,
  registry: ConnectionRegistry,
  credentials: ControlCredentials,
  readBody: () => Promise<string>,
  hooks: Pick<RequestHooks, 'onError'>,
  trace: ControlContext,
): Promise<PlainResponse> {
  const { options } = env;
  const scope: ErrorScope = { path: undefined, type: 'unknown', input: undefined, ctx: undefined };
  const connection = registry.get(credentials.connectionId);
  try {
    if (!connection || connection.closed) {
      throw new TRPCError({ code: 'NOT_FOUND', message: 'No such connection on this server; open a new stream' });
    }
    if (!secretsMatch(credentials.secret, connection.secret)) {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'Missing or wrong connection secret' });
    }
    scope.ctx = connection.ctx;
    if (connection.pendingControlRequests >= options.maxPendingControlRequests) {
      throw new TRPCError({
        code: 'TOO_MANY_REQUESTS',
        message: `At most ${options.maxPendingControlRequests} control requests may be in flight per connection`,
      });
    }
    connection.pendingControlRequests++;
    let ops: ValidControlOp[];
    try {
      ops = parseOps(await readBody(), options.maxLastEventIdLength);
    } finally {
      connection.pendingControlRequests--;
    }
    trace.ops = ops.length;
    for (const op of ops) {
      if (connection.closed) break;
      if (op.op === 'subscribe') connection.subscribe(op);
      else if (op.op === 'unsubscribe') connection.unsubscribe(op.id);
      else connection.close();
    }
    env.monitor.controlAnswered(null);
    return { status: 204, headers: {}, body: '' };
  } catch (cause) {
    return errorResponse(env, reportFailure(hooks, cause, scope), scope);
  }
}

/** The answer to a refused control request (counted here: every refusal comes through). */
function errorResponse(env: StreamEnvironment, error: TRPCError, scope: ErrorScope): PlainResponse {
  env.monitor.controlAnswered(error.code);
  const shape = serializeErrorShape(env.options.router, error, scope);
  return {
    status: getHTTPStatusCodeFromError(error),
    headers: { 'Content-Type': 'application/json' },
    body: `{"error":${shape}}`,
  };
}

/**
 * A control request (PROTOCOL.md §2.4): authenticated by the connection's secret in a header
 * before any body is read, bounded in size and in requests in flight per connection. A
 * request for a connection another process holds is handed to it through the directory.
 */
export function handleControlRequest(
  env: StreamEnvironment,
  registry: ConnectionRegistry,
  req: SSERequest,
  hooks: RequestHooks,
  directory: ConnectionDirectory | undefined,
): Promise<PlainResponse> {
  const trace: ControlContext = { connectionId: req.headers.get(MUX_HEADER.connection), forwarded: false, ops: 0 };
  return env.monitor.control(trace, answerControl, undefined, env, registry, req, hooks, directory, trace);
}

/**
 * Applies a control request here, or hands it to the process that holds its connection (which
 * counts it: every request is counted once, where it is applied or refused).
 */
async function answerControl(
  env: StreamEnvironment,
  registry: ConnectionRegistry,
  req: SSERequest,
  hooks: RequestHooks,
  directory: ConnectionDirectory | undefined,
  trace: ControlContext,
): Promise<PlainResponse> {
  const credentials = { connectionId: trace.connectionId, secret: req.headers.get(MUX_HEADER.secret) };
  const readBody = () => req.readBody(env.options.maxControlBodyBytes);
  const local = registry.get(credentials.connectionId);
  if (!local && !directory && credentials.connectionId !== null && registry.mintedElsewhere(credentials.connectionId)) {
    return misdirected(env, hooks);
  }
  if (local || !directory || credentials.connectionId === null) {
    return applyControl(env, registry, credentials, readBody, hooks, trace);
  }
  const scope: ErrorScope = { path: undefined, type: 'unknown', input: undefined, ctx: undefined };
  try {
    const answer = await directory.forward({
      ...credentials,
      connectionId: credentials.connectionId,
      body: await readBody(),
    });
    if (answer) return answer;
    throw new TRPCError({ code: 'NOT_FOUND', message: 'No such connection on any server; open a new stream' });
  } catch (cause) {
    return errorResponse(env, reportFailure(hooks, cause, scope), scope);
  }
}

/**
 * A control request for a connection another process minted, with no directory to hand it
 * over: `421` (the body is read by no one, the secret checked by no one). The client learns
 * that control requests cannot reach its stream's process and moves to distinct mode. Over
 * HTTP/1.1 the answer also closes the TCP connection: a client that still retries (a closing
 * client's last `close`) then opens a new one, which a balancer may send to the owner, as
 * RFC 9110 §15.5.20 suggests.
 */
function misdirected(env: StreamEnvironment, hooks: RequestHooks): PlainResponse {
  const error = new TRPCError({
    code: 'NOT_FOUND',
    message:
      'This connection is held by another server process and no connection directory is configured: control requests cannot reach it',
  });
  const scope: ErrorScope = { path: undefined, type: 'unknown', input: undefined, ctx: undefined };
  const answer = errorResponse(env, error, scope);
  return {
    ...answer,
    status: MISDIRECTED_STATUS,
    headers: hooks.http2 ? answer.headers : { ...answer.headers, Connection: 'close' },
  };
}

/** Answers a control request another process handed over (the owner side of {@link handleControlRequest}). */
export function handleForwardedControl(
  env: StreamEnvironment,
  registry: ConnectionRegistry,
  request: ForwardedControl,
): Promise<PlainResponse> {
  const connection = registry.get(request.connectionId);
  const hooks = connection?.hooks ?? { onError: () => undefined };
  const trace: ControlContext = { connectionId: request.connectionId, forwarded: true, ops: 0 };
  return env.monitor.control(
    trace,
    applyControl,
    undefined,
    env,
    registry,
    request,
    () => Promise.resolve(request.body),
    hooks,
    trace,
  );
}
