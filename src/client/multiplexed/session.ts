import type { SSEMessage } from '../../codec/decoder.js';
import {
  LAST_EVENT_ID_HEADER,
  MUX_EVENT,
  MUX_HEADER,
  QUERY_PARAM,
  type ConnectionHello,
  type ReconnectFrameData,
} from '../../protocol.js';
import { multiplexedUrl, setupFailure } from '../endpoint.js';
import { clientErrorWithCode } from '../errors.js';
import { runEventStream, type StreamControl, type StreamFailure } from '../runEventStream.js';
import type { ClientRuntime } from '../runtime.js';
import { EVENT_STREAM_ACCEPT } from '../wire.js';
import type { ControlTarget } from './controlChannel.js';
import type { SubscriptionTable } from './subscriptionTable.js';

/** How a session ended: a failure, or `closed` (aborted by the client, or superseded). */
export type SessionOutcome = StreamFailure | { kind: 'closed' };

/** What the transport hears from a session besides its end. */
export interface SessionEvents {
  /** The `connection` event arrived: the session is open (the table reconciles its subscriptions next). */
  opened(session: MuxSession): void;
  /** The server is draining: move to a new connection after `afterMs`. */
  draining(session: MuxSession, afterMs: number): void;
}

/**
 * The largest `subscribe` query parameter a new stream carries (characters, before
 * percent-encoding); subscriptions past it go in the first control request instead. Well
 * under the URL limits of servers and proxies (commonly 8 KiB).
 */
const MAX_OPENING_CHARS = 2048;

/** What a server that does not say takes in one control request. */
const DEFAULT_MAX_CONTROL_BYTES = 64 * 1024;

/**
 * One GET of the multiplexed stream (PROTOCOL.md §2): the request (resuming `resume`'s
 * connection when it was opened as the same party), the `connection` hello, and the frames,
 * each handed to the subscription table as it is read.
 */
export class MuxSession {
  readonly done: Promise<SessionOutcome>;
  readonly #abort = new AbortController();
  readonly #runtime: ClientRuntime;
  readonly #table: SubscriptionTable;
  readonly #events: SessionEvents;
  #url = '';
  /** The URL and headers it was opened with: a resume needs the same (new credentials must reach `createContext`). */
  #identity = '';
  #maxControlBytes = DEFAULT_MAX_CONTROL_BYTES;
  /** The server's `maxPendingControlRequests`, when it said. */
  #maxInFlight: number | undefined;
  #connectionId: string | null = null;
  #secret: string | null = null;
  #lastSeq = 0;
  /** Subscriptions whose `subscribe` rode on the opening request (PROTOCOL.md §2.1). */
  #opening: ReadonlySet<string> = new Set();

  /**
   * Opens the stream. `resume`: the last session that opened, to resume. `handover`: a drain
   * handover, where the old stream still delivers, so the opening request carries only the
   * subscriptions not running there.
   */
  constructor(
    runtime: ClientRuntime,
    table: SubscriptionTable,
    events: SessionEvents,
    opts: { resume: MuxSession | null; handover: boolean },
  ) {
    this.#runtime = runtime;
    this.#table = table;
    this.#events = events;
    this.done = this.#run(opts.resume, opts.handover);
  }

  get connectionId(): string | null {
    return this.#connectionId;
  }

  /** The `connection` event arrived: control requests can reach the connection. */
  get opened(): boolean {
    return this.#connectionId !== null && this.#secret !== null;
  }

  /** Where control requests for this session's connection go; `null` until it opened. */
  target(): ControlTarget | null {
    if (!this.#connectionId || !this.#secret) return null;
    return {
      url: this.#url,
      connectionId: this.#connectionId,
      secret: this.#secret,
      maxBodyBytes: this.#maxControlBytes,
      ...(this.#maxInFlight !== undefined ? { maxInFlight: this.#maxInFlight } : {}),
    };
  }

  /** Ends the stream (the outcome is `closed`, or the failure that came first). */
  abort(): void {
    this.#abort.abort();
  }

  async #run(resume: MuxSession | null, handover: boolean): Promise<SessionOutcome> {
    const { signal } = this.#abort;
    let inputs;
    try {
      inputs = await this.#runtime.requestInputs(signal);
    } catch (cause) {
      return setupFailure(cause);
    }
    if (!inputs) return { kind: 'closed' };
    this.#url = multiplexedUrl(inputs.url);
    const headers: Record<string, string> = { ...inputs.headers, accept: EVENT_STREAM_ACCEPT };
    if (inputs.connectionParams)
      headers[MUX_HEADER.connectionParams] = encodeURIComponent(JSON.stringify(inputs.connectionParams));
    this.#identity = JSON.stringify([this.#url, headers]);
    const resumable =
      resume && resume.#connectionId && resume.#secret && resume.#identity === this.#identity ? resume : null;
    if (resumable) {
      headers[LAST_EVENT_ID_HEADER] = String(resumable.#lastSeq);
      headers[MUX_HEADER.connection] = resumable.#connectionId!;
      headers[MUX_HEADER.secret] = resumable.#secret!;
    }
    // The request carries the subscriptions a new connection would need. A resume carries them
    // too: a server that no longer has the connection (a restart) opens a new one and starts
    // them at once, sparing each of its clients a round trip.
    const { ops, ids } = this.#table.openingOps(MAX_OPENING_CHARS, handover);
    this.#opening = ids;
    const query = ops.length > 0 ? [`${QUERY_PARAM.subscribe}=${encodeURIComponent(JSON.stringify(ops))}`] : [];
    if (signal.aborted) return { kind: 'closed' };
    return runEventStream<{ kind: 'closed' }>(this.#runtime, {
      url: multiplexedUrl(inputs.url, query),
      headers,
      signal,
      deserialize: this.#table.deserialize,
      onMessage: (message, control) => this.#onMessage(resumable, message, control),
    });
  }

  #onMessage(resume: MuxSession | null, message: SSEMessage, control: StreamControl<{ kind: 'closed' }>): void {
    if (message.event === MUX_EVENT.connection) {
      this.#onHello(resume, JSON.parse(message.data) as ConnectionHello, control);
      return;
    }
    const connectionId = this.#connectionId;
    if (!connectionId) {
      // A server that does not speak this protocol.
      control.finish({
        kind: 'error',
        error: clientErrorWithCode('UNSUPPORTED_MEDIA_TYPE', 'The stream did not start with a "connection" event', 415),
      });
      return;
    }
    if (message.id !== undefined) this.#lastSeq = Number(message.id);
    if (message.event === MUX_EVENT.ping) return;
    if (message.event === MUX_EVENT.reconnect) {
      const { afterMs } = JSON.parse(message.data) as ReconnectFrameData;
      this.#events.draining(this, Math.max(0, Math.min(afterMs, 60_000)));
      return;
    }
    this.#table.deliver(message.event, message.data, connectionId);
  }

  #onHello(resume: MuxSession | null, hello: ConnectionHello, control: StreamControl<{ kind: 'closed' }>): void {
    if (typeof hello.reconnectAfterInactivityMs === 'number' && hello.reconnectAfterInactivityMs > 0) {
      control.watchInactivity(hello.reconnectAfterInactivityMs);
    }
    const resumed = hello.resumed && resume !== null && resume.#connectionId === hello.connectionId;
    this.#connectionId = hello.connectionId;
    this.#secret = hello.secret;
    if (typeof hello.maxControlBytes === 'number' && hello.maxControlBytes > 0)
      this.#maxControlBytes = hello.maxControlBytes;
    if (typeof hello.maxPendingControlRequests === 'number' && hello.maxPendingControlRequests > 0)
      this.#maxInFlight = hello.maxPendingControlRequests;
    this.#lastSeq = resumed ? resume.#lastSeq : 0;
    this.#events.opened(this);
    const subscribed = new Set(resumed || !Array.isArray(hello.subscribed) ? [] : hello.subscribed);
    this.#table.connectionOpened(hello.connectionId, resumed, this.#opening, subscribed);
  }
}
