import type { TickEvent } from './events.js';

/** Where the fan-out procedure `onTick` gets its events, and how many subscribers it has. */
export interface TickSource {
  publish(event: TickEvent): void;
  subscribe(signal: AbortSignal | undefined, lastEventId: string | null | undefined): AsyncIterable<unknown>;
  readonly active: number;
}
