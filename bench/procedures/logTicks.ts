import { createMemoryEventLog, type EventLog } from 'trpc-sse/server';
import type { TickEvent } from './events.js';
import type { TickSource } from './tickSource.js';

/**
 * The fan-out source for trpc-sse: its memory event log, the way the README tells apps to
 * write a feed. The log stores each event once and every reader shares one serialization, so
 * fan-out costs no per-subscriber queue and no per-subscriber JSON.stringify.
 */
export class LogTicks implements TickSource {
  readonly #log: EventLog;
  #active = 0;

  /** `log`: another event log (Redis, Postgres) for a multi-process server; the memory log by default. */
  constructor(log: EventLog = createMemoryEventLog({ maxEvents: 1_000 })) {
    this.#log = log;
  }

  get active(): number {
    return this.#active;
  }

  publish(event: TickEvent): void {
    void this.#log.publish('tick', event);
  }

  subscribe(signal: AbortSignal | undefined, lastEventId: string | null | undefined): AsyncIterable<unknown> {
    // Counted by the procedure's signal rather than by wrapping the subscription, which would
    // take it off the log's push path; the listener is this object, not a closure per subscriber.
    if (!signal?.aborted) {
      this.#active++;
      signal?.addEventListener('abort', this, { once: true });
    }
    return this.#log.subscribe<TickEvent>('tick', { lastEventId, signal });
  }

  /** A subscriber's signal aborted. */
  handleEvent(): void {
    this.#active--;
  }
}
