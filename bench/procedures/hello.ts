import { nowUs } from '../lib/clock.js';
import type { TickEvent } from './events.js';

/** Subscribe → first event: one event at once, then stay open until the client leaves. */
export async function* helloEvents(signal: AbortSignal | undefined): AsyncGenerator<TickEvent> {
  yield { seq: 0, ts: nowUs() };
  if (signal && !signal.aborted) {
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
}
