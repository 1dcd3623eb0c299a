/**
 * The names of the wire, written once: both the server and the client import them
 * (PROTOCOL.md is their specification). Nothing here imports anything, so the client
 * bundle pays only for the strings it uses.
 */

/**
 * The path segment, under the tRPC endpoint, of the multiplexed protocol: the stream is
 * `GET {endpoint}/trpc-sse`, control requests `POST {endpoint}/trpc-sse`. A child of the
 * endpoint, not the endpoint itself, so every router that forwards the endpoint's children to
 * tRPC (Next.js' `app/api/trpc/[trpc]/route.ts`, Hono's `/trpc/*`, a sub-path mount) also
 * forwards it. A procedure may not use this path; the server refuses a router that does.
 */
export const MUX_PATH = 'trpc-sse';

/** Request headers of the multiplexed protocol (lower case, as `Headers` reports them). */
export const MUX_HEADER = {
  /** The connection a resume or a control request is about. */
  connection: 'trpc-sse-connection',
  /** The connection's secret, sent by the server only down its stream. */
  secret: 'trpc-sse-secret',
  /** Percent-encoded JSON object of strings: `createContext`'s `info.connectionParams`. */
  connectionParams: 'trpc-sse-connection-params',
} as const;

/** Query parameters of the wire: the resume id for clients that cannot send it as a header (distinct mode), and the subscriptions a new multiplexed stream carries (PROTOCOL.md §2.1). */
export const QUERY_PARAM = {
  lastEventId: 'lastEventId',
  subscribe: 'subscribe',
} as const;

/**
 * The status of a control request that reached a server process other than the one holding
 * its connection, when no directory can hand it over (PROTOCOL.md §2.4): `421 Misdirected
 * Request`. The body is a tRPC error (`NOT_FOUND`); the status is what a client branches on,
 * since an application's `errorFormatter` may reshape the body. Control requests cannot reach
 * the stream's process in this deployment: the client moves to distinct mode.
 */
export const MISDIRECTED_STATUS = 421;

/** The resume header of both modes (a frame sequence number in multiplexed mode, a tracked id in distinct mode). */
export const LAST_EVENT_ID_HEADER = 'last-event-id';

/**
 * The `Accept` parameter by which a client says it revives tagged bytes (PROTOCOL.md §1.5).
 * It keeps the header CORS-safelisted.
 */
export const BINARY_ACCEPT_PARAM = 'trpc-sse-binary=base64';

/**
 * Request headers a trpc-sse client sends that are not CORS-safelisted: a server on another
 * origin must allow them (`Access-Control-Allow-Headers`), together with the application's own
 * (`authorization`, …), or the browser blocks the request before it leaves. `content-type` is
 * `application/json` on control requests.
 *
 * @example
 * ```ts
 * app.use(cors({ origin: 'https://app.example.com', allowedHeaders: [...CORS_REQUEST_HEADERS, 'authorization'] }));
 * ```
 */
export const CORS_REQUEST_HEADERS = Object.freeze([
  'content-type',
  LAST_EVENT_ID_HEADER,
  MUX_HEADER.connection,
  MUX_HEADER.secret,
  MUX_HEADER.connectionParams,
  // Typed as a plain array so it fits option types such as `cors`'s `allowedHeaders: string[]`;
  // frozen, so no caller can change what every other caller reads.
]) as string[];

/** HTTP methods a trpc-sse client uses: `GET` for streams, `POST` for multiplexed control requests. */
export const CORS_METHODS = Object.freeze(['GET', 'POST']) as string[];

/** Event names of the multiplexed stream (PROTOCOL.md §2.3). A value frame has none (`message`). */
export const MUX_EVENT = {
  connection: 'connection',
  started: 'started',
  failed: 'failed',
  return: 'return',
  ping: 'ping',
  reconnect: 'reconnect',
  reset: 'reset',
  checkpoint: 'checkpoint',
} as const;

/** The data of the `connection` event, the first of every multiplexed stream. */
export interface ConnectionHello {
  protocol: 1;
  connectionId: string;
  /** ≥ 128 random bits, base64url; sent nowhere but down this stream. */
  secret: string;
  resumed: boolean;
  reconnectAfterInactivityMs: number;
  maxSubscriptions: number;
  /** The largest control request body the server takes: clients split batches under it. */
  maxControlBytes: number;
  /** Control requests the server takes in flight at once for this connection: clients stay under it. */
  maxPendingControlRequests?: number;
  /** Ids of the subscriptions the opening request carried, now started (PROTOCOL.md §2.1). */
  subscribed?: string[];
}

/** A `subscribe` op as it travels (PROTOCOL.md §2.4), in a control request or the opening `subscribe` parameter. */
export interface SubscribeOpWire {
  op: 'subscribe';
  /** The client's id of the subscription; frames name it as `s`. */
  id: string;
  path: string;
  /** Through the router's transformer; absent for `undefined`. */
  input?: unknown;
  /** The subscription's last tracked id, to resume from. */
  lastEventId?: string | null;
}

/** One op of a control request. */
export type ControlOp = SubscribeOpWire | { op: 'unsubscribe'; id: string } | { op: 'close' };

/** The data of a value frame: `s` the subscription, `i` the tracked id if any, `d` the value. */
export interface ValueFrameData {
  s: string;
  i?: string;
  d: unknown;
}

/** The data of `started` and `return`. */
export interface SubscriptionFrameData {
  s: string;
}

/** The data of `failed`: `e` is the error shape through the transformer. */
export interface FailedFrameData {
  s: string;
  e: unknown;
}

/** The data of `reset` (PROTOCOL.md §3): the reason, and where the subscription continues. */
export interface ResetFrameData {
  s: string;
  r: 'trimmed' | 'unknown' | 'epoch';
  i: string | null;
}

/** The data of `checkpoint`: the subscription's position. */
export interface CheckpointFrameData {
  s: string;
  i: string;
}

/** The data of `reconnect` (a drain): move to a new connection after `afterMs`. */
export interface ReconnectFrameData {
  afterMs: number;
}
