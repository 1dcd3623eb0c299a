import { TRPCError } from '@trpc/server';
import { Heartbeat } from './heartbeat.js';
import type { StreamCloseReason } from './observability/channels.js';
import { ServerMonitor } from './observability/monitor.js';
import type { ResolvedServerOptions } from './resolveOptions.js';

/** An open stream, as the server can end it from outside (shutdown, drain). */
export interface Closable {
  readonly mode: 'distinct' | 'multiplexed';
  /** Ends the stream without `return`: the client reconnects and resumes. */
  close(reason: StreamCloseReason): void;
}

/** What every stream of one server shares: options, the heartbeat, and the open-stream budget. */
export class StreamEnvironment {
  readonly options: ResolvedServerOptions;
  readonly heartbeat: Heartbeat;
  readonly monitor = new ServerMonitor();
  readonly #streams = new Set<Closable>();

  constructor(options: ResolvedServerOptions) {
    this.options = options;
    this.heartbeat = new Heartbeat(options.heartbeatMs);
  }

  get openStreams(): number {
    return this.#streams.size;
  }

  #refusing = false;

  /** From now on, refuse every new stream (the process is going away). */
  /** `true` once new streams are refused: the process is going away. */
  get refusing(): boolean {
    return this.#refusing;
  }

  refuseNew(): void {
    this.#refusing = true;
  }

  /** Counts a stream against `maxStreams`; `false` when the server is full or going away. */
  admit(stream: Closable): boolean {
    if (this.#refusing || this.#streams.size >= this.options.maxStreams) return false;
    this.#streams.add(stream);
    return true;
  }

  /** Open distinct-mode streams (a drain ends them one by one). */
  distinctStreams(): Closable[] {
    return [...this.#streams].filter((stream) => stream.mode === 'distinct');
  }

  release(stream: Closable): void {
    this.#streams.delete(stream);
  }

  /** The error a stream gets when {@link admit} said no: retryable, so clients back off. */
  refusal(): TRPCError {
    if (this.#refusing) {
      return new TRPCError({
        code: 'SERVICE_UNAVAILABLE',
        message: 'This server is shutting down; reconnect elsewhere',
      });
    }
    return new TRPCError({
      code: 'SERVICE_UNAVAILABLE',
      message: `This server is at its limit of ${this.options.maxStreams} open streams; retry later`,
    });
  }

  /** Ends every open stream without `return`, and stops the heartbeat. */
  closeAll(): void {
    for (const stream of [...this.#streams]) stream.close('shutdown');
    this.heartbeat.stop();
  }
}
