import { nowUs } from '../lib/clock.js';
import type { TickEvent } from './events.js';

/**
 * Throughput: `count` events as fast as the transport lets the generator run (a generator is
 * only asked for its next value when the transport wants one, so backpressure applies).
 */
export async function* streamEvents(count: number): AsyncGenerator<TickEvent> {
  for (let seq = 0; seq < count; seq++) yield { seq, ts: nowUs() };
}
