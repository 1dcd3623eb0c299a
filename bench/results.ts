/** The shape of `results/latest.json`: one run, every case, raw. */
import type { BundleSizeReport } from '../scripts/bundle-size.js';
import type { Config } from './config.js';
import type { MachineFacts } from './machine.js';
import type { TransportId } from './transports/types.js';

/** A case's raw result; `{ error }` when it failed, `{ skipped }` when the time budget ran out. */
export type CaseResult = object;
export type ByTransport = Partial<Record<TransportId, CaseResult>>;

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
  /** What each subscription link adds to a browser app's bundle; absent from runs made before it was measured. */
  size?: BundleSizeReport | { error: string };
}
