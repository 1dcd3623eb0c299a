import { EventEmitter } from 'node:events';
import type { TickEvent } from './events.js';
import type { TickSource } from './tickSource.js';

/**
 * The fan-out source for stock tRPC (SSE and ws): an EventEmitter, and per subscriber a small
 * queue drained by an async generator. This is the lean form; `events.on()` (the tRPC docs'
 * idiom) allocates two 2,048-slot queues per subscriber on Node 20 and would inflate the
 * peers' memory figures.
 */
export class EmitterTicks implements TickSource {
  readonly #ee = new EventEmitter();

  constructor() {
    this.#ee.setMaxListeners(0);
  }

  get active(): number {
    return this.#ee.listenerCount('tick');
  }

  publish(event: TickEvent): void {
    this.#ee.emit('tick', event);
  }

  async *subscribe(signal: AbortSignal | undefined): AsyncGenerator<TickEvent> {
    const queue: TickEvent[] = [];
    let wake: (() => void) | null = null;
    const poke = (): void => {
      const w = wake;
      wake = null;
      w?.();
    };
    const listener = (event: TickEvent): void => {
      queue.push(event);
      poke();
    };
    this.#ee.on('tick', listener);
    signal?.addEventListener('abort', poke, { once: true });
    try {
      while (!signal?.aborted) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      this.#ee.off('tick', listener);
      signal?.removeEventListener('abort', poke);
    }
  }
}
