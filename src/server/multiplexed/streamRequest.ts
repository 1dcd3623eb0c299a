import { TRPCError } from '@trpc/server';
import type { TRPCRequestInfo } from '@trpc/server/http';
import { getHTTPStatusCodeFromError, parseConnectionParamsFromString } from '@trpc/server/http';
import { eventStreamHeaders } from '../dialect.js';
import type { Closable, StreamEnvironment } from '../environment.js';
import { reportFailure, type ErrorScope } from '../errorShape.js';
import type { RequestHooks } from '../options.js';
import type { ClientGoneListener, SSERequest, SSEResponseSink } from '../request.js';
import { secretsMatch } from '../secret.js';
import { serializeErrorShape, ValueSerializer } from '../serialize.js';
import { endStream, type ConnectionStream, type MuxConnection } from './connection.js';
import type { StreamCloseReason } from '../observability/channels.js';
import { parseOpeningSubscribes, type ValidSubscribeOp } from './ops.js';
import { LAST_EVENT_ID_HEADER, MUX_HEADER, QUERY_PARAM } from '../../protocol.js';
import type { ConnectionRegistry } from './registry.js';

/** An error answered with its HTTP status and `{ error: shape }`, as tRPC's HTTP handler does. */
function writeJSONError(sink: SSEResponseSink, env: StreamEnvironment, error: TRPCError, scope: ErrorScope): void {
  const shape = serializeErrorShape(env.options.router, error, scope);
  sink.start(getHTTPStatusCodeFromError(error), { 'Content-Type': 'application/json' });
  sink.write(`{"error":${shape}}`);
  sink.end();
}

function readConnectionParams(req: SSERequest, maxLength: number): Record<string, string> | null {
  const header = req.headers.get(MUX_HEADER.connectionParams);
  if (header === null) return null;
  if (header.length > maxLength) {
    throw new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: `connectionParams exceed ${maxLength} characters` });
  }
  let text: string;
  try {
    text = decodeURIComponent(header);
  } catch (cause) {
    throw new TRPCError({ code: 'PARSE_ERROR', message: 'connectionParams are not percent-encoded', cause });
  }
  return parseConnectionParamsFromString(text) as Record<string, string> | null;
}

function readResumeSeq(req: SSERequest): number | null {
  const value = req.headers.get(LAST_EVENT_ID_HEADER);
  return value !== null && /^\d{1,15}$/.test(value) ? Number(value) : null;
}

/**
 * One GET of the multiplexed stream: the sink its connection writes to, the handle the
 * environment counts and closes, and the listener for the client leaving. One object per
 * open stream, with no closures (a server holds thousands).
 */
class MuxStream implements ConnectionStream, Closable, ClientGoneListener {
  readonly mode = 'multiplexed';
  /** The connection it carries, once there is one. */
  connection: MuxConnection | undefined;
  closeReason: StreamCloseReason | undefined;
  /** When it opened (0: not yet), for the server's figures. */
  #openedAt = 0;
  /** Resolves when the stream has ended (the client left, or the server ended it). */
  readonly done: Promise<void>;
  readonly #env: StreamEnvironment;
  readonly #req: SSERequest;
  readonly #sink: SSEResponseSink;
  #resolveDone!: () => void;
  #ended = false;

  constructor(env: StreamEnvironment, req: SSERequest, sink: SSEResponseSink) {
    this.#env = env;
    this.#req = req;
    this.#sink = sink;
    this.done = new Promise<void>((resolve) => (this.#resolveDone = resolve));
  }

  get ended(): boolean {
    return this.#ended;
  }

  start(status: number, headers: Record<string, string>): void {
    this.#sink.start(status, headers);
  }

  write(chunk: string): boolean {
    this.#env.monitor.wrote(chunk);
    return this.#sink.write(chunk);
  }

  writeMessage(frame: string, key: string, body: string): boolean {
    this.#env.monitor.wroteMessage(frame.length, key, body);
    return this.#sink.write(frame);
  }

  /** It carries `connection` now (new, or resumed from the replay buffer). */
  opened(connection: MuxConnection, resumed: boolean): void {
    this.connection = connection;
    this.#openedAt = this.#env.monitor.streamOpened('multiplexed', null, connection.id, resumed);
  }

  drained(): Promise<void> {
    return this.#sink.drained();
  }

  get bufferedBytes(): number {
    return this.#sink.bufferedBytes;
  }

  /** The server ends the stream (drop, close, refusal). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#sink.end();
    this.#finish();
  }

  /** The server cuts the stream off, dropping what is queued (see SSEResponseSink). */
  destroy(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#sink.destroy) this.#sink.destroy();
    else this.#sink.end();
    this.#finish();
  }

  /** Closable: the environment drops the stream; the connection stays for a resume. */
  close(reason: StreamCloseReason): void {
    this.connection?.dropStream(reason);
  }

  /** The client left. */
  clientGone(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.closeReason = 'client';
    this.#finish();
  }

  #finish(): void {
    const reason = this.closeReason ?? 'ended';
    if (this.#openedAt)
      this.#env.monitor.streamClosed(
        'multiplexed',
        null,
        this.connection!.id,
        reason,
        this.#openedAt,
        this.#sink.bufferedBytes,
      );
    this.#req.onGone(null);
    this.connection?.detach(this);
    this.#env.release(this);
    this.#resolveDone();
  }
}

/**
 * Serves the multiplexed stream: resumes the client's connection when it can, else opens a
 * new one (running `createContext` once for it). Resolves when the stream ends.
 */
export async function serveMultiplexedStream(
  env: StreamEnvironment,
  registry: ConnectionRegistry,
  req: SSERequest,
  sink: SSEResponseSink,
  hooks: RequestHooks,
): Promise<void> {
  const scope: ErrorScope = { path: undefined, type: 'subscription', input: undefined, ctx: undefined };
  const stream = new MuxStream(env, req, sink);
  if (!req.onGone(stream)) return Promise.resolve();
  const { done } = stream;
  if (!env.admit(stream)) {
    writeJSONError(stream, env, env.refusal(), scope);
    return done;
  }

  const resumeId = req.headers.get(MUX_HEADER.connection);
  const resumable = registry.get(resumeId);
  const lastSeq = readResumeSeq(req);
  if (
    resumable &&
    !resumable.closed &&
    lastSeq !== null &&
    secretsMatch(req.headers.get(MUX_HEADER.secret), resumable.secret)
  ) {
    if (resumable.canResume(lastSeq)) {
      stream.start(200, eventStreamHeaders(hooks.http2, env.refusing));
      const replayed = resumable.attach(stream, lastSeq);
      stream.opened(resumable, true);
      env.monitor.resumedFromReplay(resumable.id, replayed);
      limitLifetime(env, resumable, stream, done);
      return done;
    }
    // Too late to resume (frames gone): the client subscribes afresh on a new connection, so
    // the old procedures must not run on beside the new ones.
    env.monitor.replayMissed(resumable.id, 'trimmed');
    resumable.close();
  } else if (resumeId !== null && lastSeq !== null) {
    env.monitor.replayMissed(resumeId, resumable && !resumable.closed ? 'forbidden' : 'unknown');
  }

  // Connections outlive their streams (graceMs), so they are bounded on their own.
  if (registry.size >= env.options.maxStreams) {
    writeJSONError(stream, env, env.refusal(), scope);
    return done;
  }
  let opening: ValidSubscribeOp[] = [];
  let connection: MuxConnection;
  try {
    const subscribe = req.searchParams.get(QUERY_PARAM.subscribe);
    if (subscribe !== null) {
      opening = parseOpeningSubscribes(subscribe, env.options.maxControlBodyBytes, env.options.maxLastEventIdLength);
    }
    const connectionParams = readConnectionParams(req, env.options.maxInputLength);
    const info: TRPCRequestInfo = {
      accept: null,
      type: 'subscription',
      isBatchCall: false,
      calls: [],
      connectionParams,
      // Made only if createContext reads it (an AbortSignal per stream is costly).
      get signal() {
        return req.signal;
      },
      url: req.url,
    };
    const ctx = await env.monitor.openConnection(opening.length, hooks.createContext, hooks, info);
    if (stream.ended) {
      await done;
      return;
    }
    connection = registry.create(ctx, hooks, ValueSerializer.for(env.options, req));
    stream.connection = connection;
  } catch (cause) {
    const error = reportFailure(hooks, cause, scope);
    if (!stream.ended) writeJSONError(stream, env, error, scope);
    return done;
  }
  // The directory's record first: the client may send a control request the moment it reads
  // the hello, and the balancer may take it to another process.
  await registry.announce(connection);
  if (stream.ended) {
    connection.close();
    return done;
  }
  stream.start(200, eventStreamHeaders(hooks.http2, env.refusing));
  connection.attach(stream, null, opening);
  stream.opened(connection, false);
  for (const op of opening) connection.subscribe(op);
  limitLifetime(env, connection, stream, done);
  return done;
}

/** `maxDurationMs`: the stream ends (resumably) when its time is up. */
function limitLifetime(
  env: StreamEnvironment,
  connection: MuxConnection,
  stream: MuxStream,
  done: Promise<void>,
): void {
  const { maxDurationMs } = env.options;
  if (maxDurationMs <= 0) return;
  const timer = setTimeout(() => {
    connection.detach(stream);
    endStream(stream, env.options.maxBufferedBytes, 'maxDuration');
  }, maxDurationMs);
  void done.then(() => clearTimeout(timer));
}
