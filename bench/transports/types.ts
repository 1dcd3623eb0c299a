import type { TickEvent } from '../procedures/events.js';

/** The five columns of every table, then the HTTP/2 scenario's TLS variants (its own table). */
export type TransportId = 'mux' | 'distinct' | 'stock' | 'ws' | 'raw' | 'mux-h2' | 'distinct-h2' | 'ws-tls';
/** Server programs; trpc-sse's serves both of its wire modes (`-h2`: node:http2 with TLS; `ws-tls`: wss://). */
export type ServerKind = 'trpc-sse' | 'stock-sse' | 'ws' | 'raw' | 'trpc-sse-h2' | 'ws-tls';
export type ProcedurePath = 'stream' | 'onTick' | 'hello' | 'counter';

export interface ServerOptions {
  /** 0: any free port. */
  port: number;
  counter: { t0: number; periodMs: number; generation: number };
  /** trpc-sse multiplexed: subscriptions one connection may hold (raised for the one-connection memory case). */
  maxSubscriptionsPerConnection: number;
}

export interface BenchServer {
  readonly port: number;
  /** Live subscriptions of `onTick` and `counter`. */
  subscribers(): number;
  /** Fan-out: hand one event to every `onTick` subscriber (serialized once where the server can). */
  publishTick(event: TickEvent): void;
  /** The storm's counter: its head, and how many subscriptions resumed and how many values they were replayed. */
  counterStats(): { head: number; resumes: number; replayed: number };
  /** trpc-sse with BENCH_OBSERVE=1: messages its diagnostics-channel listeners received. */
  observedMessages?(): number;
  /** Stops listening and cuts every connection (the process usually just exits; tests call this). */
  close?(): Promise<void>;
}

export interface SubscribeHandlers {
  onStarted(): void;
  onData(value: unknown): void;
  onError(error: unknown): void;
  onComplete(): void;
}

/** One client: a connection (or a set of per-subscription streams) as an app would hold it. */
export interface BenchClient {
  subscribe(path: ProcedurePath, input: unknown, handlers: SubscribeHandlers): () => void;
  close(): void;
}

export type ClientFactory = () => BenchClient;
