/**
 * What the framework-free core needs from a request and a response. Adapters (Express,
 * node:http, fetch) translate their native objects into these and nothing else.
 */

/** A read-only view of request headers: `Headers` satisfies it, and so does a tiny wrapper over Node's. */
export interface HeadersLike {
  get(name: string): string | null;
}

/** Told once, when the client of a request goes away. */
export interface ClientGoneListener {
  clientGone(): void;
}

/**
 * A request as the core sees it. An open stream holds its request for its whole life, so an
 * adapter may compute properties when they are read (getters) rather than keep them: the
 * core reads `url`, `searchParams` and `headers` while it sets a request up, and `signal`
 * (which it listens to) as it starts.
 */
export interface SSERequest {
  /** Upper-case HTTP method. */
  method: string;
  /** Procedure path: the part of the URL path after the endpoint, without a leading slash. */
  path: string;
  /** The query string. */
  searchParams: URLSearchParams;
  headers: HeadersLike;
  /** The full URL when the adapter knows it (passed to `createContext` as `info.url`). */
  url: URL | null;
  /** Aborted when the client goes away (socket closed, body cancelled). */
  signal: AbortSignal;
  /**
   * Sets the one listener told when the client goes away. Streams use this rather than
   * {@link signal}, which costs an `AbortSignal` (most of a kilobyte) per open stream.
   * `null` removes it. Returns `false`, and keeps nothing, when the client has already gone.
   */
  onGone(listener: ClientGoneListener | null): boolean;
  /**
   * Reads the request body as text, at most `maxBytes`; rejects with a `PAYLOAD_TOO_LARGE`
   * `TRPCError` past that (without buffering the rest). When middleware already consumed the
   * body, the text is what its parser left (measured against `maxBytes` too); when it left
   * nothing usable, rejects at once with a `BAD_REQUEST` `TRPCError` saying so, never waiting
   * on a spent stream.
   */
  readBody(maxBytes: number): Promise<string>;
}

/**
 * Where the core writes an event stream. Node adapters write straight to the socket; the
 * fetch adapter feeds a `ReadableStream`.
 */
export interface SSEResponseSink {
  /** Sends the status line and headers. Called once, before the first `write`. */
  start(status: number, headers: Record<string, string>): void;
  /**
   * Queues wire text. Returns `false` when the transport's buffer is past its high-water
   * mark: the writer then waits for {@link drained} before producing more.
   */
  write(chunk: string): boolean;
  /** Resolves once the buffer has room again, or the response is closed. */
  drained(): Promise<void>;
  /** Bytes (or, for string-queuing transports, an estimate) queued but not yet sent. */
  readonly bufferedBytes: number;
  /** Ends the response. Idempotent. */
  end(): void;
  /**
   * Ends the response at once, dropping whatever is still queued: for a peer that stopped
   * reading, whose queue `end()` would keep (with the socket) for as long as the peer stays.
   * Idempotent. When a sink lacks it, `end()` is used.
   */
  destroy?(): void;
}

/** A complete, non-streaming answer (a control request's): the adapter writes it as it is. */
export interface PlainResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}
