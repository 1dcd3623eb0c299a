/**
 * What the observability tests share: a router over a memory event log, an event-stream
 * reader that counts the bytes it receives, and a recorder of every trpc-sse diagnostics
 * channel. Everything is awaited on signals (an event arrived, a channel message came).
 */
import diagnostics from 'node:diagnostics_channel';
import { initTRPC } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { z } from 'zod';
import { createSSEDecoder, type SSEMessage } from '../../src/codec/decoder.js';
import { createMemoryEventLog } from '../../src/log/memoryEventLog.js';
import {
  CONNECTION_OPEN_CHANNEL,
  CONTROL_CHANNEL,
  DRAIN_CHANNEL,
  LOG_PUBLISH_CHANNEL,
  RESET_CHANNEL,
  RESUME_CHANNEL,
  SLOW_CONSUMER_CHANNEL,
  STREAM_CLOSE_CHANNEL,
  STREAM_OPEN_CHANNEL,
  SUBSCRIPTION_END_CHANNEL,
  SUBSCRIPTION_START_CHANNEL,
} from '../../src/server/observability/channels.js';
import { MUX_HEADER, MUX_PATH } from '../../src/protocol.js';

const POINT_CHANNELS = [
  STREAM_OPEN_CHANNEL,
  STREAM_CLOSE_CHANNEL,
  SUBSCRIPTION_END_CHANNEL,
  RESUME_CHANNEL,
  RESET_CHANNEL,
  DRAIN_CHANNEL,
  SLOW_CONSUMER_CHANNEL,
] as const;
const TRACING_CHANNELS = [
  CONNECTION_OPEN_CHANNEL,
  SUBSCRIPTION_START_CHANNEL,
  CONTROL_CHANNEL,
  LOG_PUBLISH_CHANNEL,
] as const;
const TRACING_EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const;

export interface Recorded {
  /** A point channel's name, or `tracing:{name}:{event}`. */
  channel: string;
  message: Record<string, unknown>;
}

/** Subscribes to every channel; `until` waits for a matching message. */
export class ChannelRecorder {
  readonly messages: Recorded[] = [];
  readonly #waiters: Array<{ test: () => boolean; resolve: () => void }> = [];
  readonly #unsubscribe: Array<() => void> = [];

  constructor() {
    const names = [
      ...POINT_CHANNELS,
      ...TRACING_CHANNELS.flatMap((name) => TRACING_EVENTS.map((event) => `tracing:${name}:${event}`)),
    ];
    for (const name of names) {
      const listener = (message: unknown): void => {
        // Tracing contexts are one object through start…asyncEnd: keep what it held then.
        this.messages.push({ channel: name, message: { ...(message as Record<string, unknown>) } });
        for (const waiter of [...this.#waiters]) {
          if (waiter.test()) {
            this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
            waiter.resolve();
          }
        }
      };
      diagnostics.subscribe(name, listener);
      this.#unsubscribe.push(() => diagnostics.unsubscribe(name, listener));
    }
  }

  /** The messages `channel` carried, read as `M`: the type it publishes (channels.ts), which the assertions then check. */
  of<M extends object = Record<string, unknown>>(channel: string): M[] {
    return this.messages.filter((m) => m.channel === channel).map((m) => m.message as unknown as M);
  }

  /** Resolves once `channel` has carried `count` messages (matching `where`, if given). */
  until(
    channel: string,
    count: number,
    where: (message: Record<string, unknown>) => boolean = () => true,
  ): Promise<void> {
    const test = (): boolean => this.of(channel).filter(where).length >= count;
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }
}

/** An event stream read by the test: its events, and the bytes of its body. */
export class StreamReader {
  readonly events: SSEMessage[] = [];
  bytes = 0;
  status = 0;
  ended = false;
  readonly #controller = new AbortController();
  #cancelBody: () => void = () => undefined;
  readonly #waiters: Array<{ test: () => boolean; resolve: () => void }> = [];

  static async open(url: string, headers: Record<string, string> = {}): Promise<StreamReader> {
    const reader = new StreamReader();
    await reader.#start(url, headers);
    return reader;
  }

  /** Reads a response already made (the fetch handler's). */
  static fromResponse(response: Response): StreamReader {
    const reader = new StreamReader();
    reader.#read(response);
    return reader;
  }

  async #start(url: string, headers: Record<string, string>): Promise<void> {
    this.#read(
      await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: this.#controller.signal }),
    );
  }

  #read(response: Response): void {
    this.status = response.status;
    const decoder = createSSEDecoder({ onEvent: (event) => this.events.push(event) });
    const body = response.body!.getReader();
    this.#cancelBody = () => void body.cancel().catch(() => undefined);
    void (async () => {
      try {
        for (;;) {
          const chunk = await body.read();
          if (chunk.done) break;
          this.bytes += chunk.value.byteLength;
          decoder.push(chunk.value);
          this.#check();
        }
      } catch {
        // Cancelled by the test, or cut by the server.
      }
      this.ended = true;
      this.#check();
    })();
  }

  /** Resolves once `count` events named `event` have arrived (or the body ended: check `ended`). */
  until(event: string, count: number): Promise<void> {
    const test = (): boolean => this.ended || this.events.filter((e) => e.event === event).length >= count;
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  named(event: string): SSEMessage[] {
    return this.events.filter((e) => e.event === event);
  }

  cancel(): void {
    this.#controller.abort();
    this.#cancelBody();
  }

  #check(): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.test()) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }
}

/** A multiplexed connection opened by hand (PROTOCOL.md §2). */
export interface MuxClient {
  stream: StreamReader;
  connectionId: string;
  secret: string;
}

export async function openMux(endpoint: string, headers: Record<string, string> = {}): Promise<MuxClient> {
  const stream = await StreamReader.open(`${endpoint}/${MUX_PATH}`, headers);
  await stream.until('connection', 1);
  const hello = JSON.parse(stream.named('connection')[0]!.data) as { connectionId: string; secret: string };
  return { stream, connectionId: hello.connectionId, secret: hello.secret };
}

/** Resumes `client`'s connection on a new stream, from the last frame it received. */
export async function resumeMux(endpoint: string, client: MuxClient): Promise<MuxClient> {
  const lastSeq = client.stream.events.at(-1)!.id ?? '0';
  const stream = await StreamReader.open(`${endpoint}/${MUX_PATH}`, {
    'last-event-id': lastSeq,
    [MUX_HEADER.connection]: client.connectionId,
    [MUX_HEADER.secret]: client.secret,
  });
  await stream.until('connection', 1);
  return { ...client, stream };
}

export async function control(endpoint: string, connectionId: string, secret: string, ops: unknown[]): Promise<number> {
  const response = await fetch(`${endpoint}/${MUX_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [MUX_HEADER.connection]: connectionId, [MUX_HEADER.secret]: secret },
    body: JSON.stringify({ ops }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** The router: `feed` reads the memory log's `feed` topic from an optional last id; `flood` cannot be paused. */
export function observedRouter() {
  const t = initTRPC.create();
  const log = createMemoryEventLog();
  const router = t.router({
    feed: t.procedure
      .input(z.object({ lastEventId: z.string().nullish() }).optional())
      .subscription(({ input, signal }) =>
        log.subscribe<{ n: number }>('feed', { lastEventId: input?.lastEventId ?? null, signal }),
      ),
    /** 20 MiB at once: past `maxBufferedBytes`, its stream is cut. */
    flood: t.procedure.subscription(() =>
      observable<string>((emit) => {
        const payload = 'y'.repeat(1024);
        for (let i = 0; i < 20_000; i++) emit.next(payload);
        return () => undefined;
      }),
    ),
  });
  return { router, log };
}
