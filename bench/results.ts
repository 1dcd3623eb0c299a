/** The shape of `results/latest.json`: one run, every case, raw. */
import type { BundleSizeReport } from '../scripts/bundle-size.js';
import type { BrowserReader } from './browser/columns.js';
import type { Config } from './config.js';
import type { BackendId } from './lib/backends.js';
import type { MachineFacts } from './machine.js';
import type { TransportId } from './transports/types.js';

/** A case's raw result; `{ error }` when it failed, `{ skipped }` when the time budget ran out. */
export type CaseResult = object;
export type ByTransport = Partial<Record<TransportId, CaseResult>>;

/** The observability scenario: alternating fan-outs with the server's listeners off and on. */
export interface ObservabilityCost {
  subscribers: number;
  /** Server CPU µs per delivery, one figure per round. */
  offUsPerDelivery: number[];
  onUsPerDelivery: number[];
  /** median(on) ÷ median(off) − 1, in %. */
  overheadPct: number;
  /** Channel messages the listeners received, summed over the "on" rounds. */
  channelMessages: number;
  errors: string[];
}

export interface Results {
  machine: MachineFacts;
  params: Config;
  startedAt: string;
  elapsedS: number;
  /** Wall time per scenario, seconds. */
  scenarioSeconds: Record<string, number>;
  throughput: ByTransport;
  fanout: Record<string, ByTransport>;
  idle: ByTransport;
  idleShared: ByTransport;
  connect: ByTransport;
  connectWarm: ByTransport;
  storm: ByTransport;
  /** Server CPU per delivery with every diagnostics channel listened to and stats read, versus without; absent from runs made before it was measured. */
  observability?: ObservabilityCost;
  /** Two server processes on a shared backend behind a balancer, per backend; absent from runs made before it was measured. */
  multiProcess?: Partial<Record<BackendId, CaseResult>>;
  /** 100 subscriptions from one client over HTTP/2 with TLS (keys mux-h2, distinct-h2, ws-tls); absent from runs made before it was measured. */
  http2?: ByTransport;
  /** The client decoding one fast stream in Chromium, per reader; absent from runs made before it was measured. */
  browser?: Partial<Record<BrowserReader, CaseResult>>;
  /** What each subscription link adds to a browser app's bundle; absent from runs made before it was measured. */
  size?: BundleSizeReport | { error: string };
}
