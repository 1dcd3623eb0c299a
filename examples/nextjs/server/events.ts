import type { EventLog } from 'trpc-sse/server';
import { createMemoryEventLog } from 'trpc-sse/server';

/** One tick of the server's clock: `n` counts up by one, so a gap or a repeat is visible. */
export interface Tick {
  n: number;
  at: string;
}

export interface Message {
  text: string;
  at: string;
}

export const TICKS = 'ticks';
export const MESSAGES = 'messages';

interface Events {
  log: EventLog;
  startedAt: string;
  /** The last tick published. */
  tick(): number;
}

/**
 * One log and one ticker per server process. Next.js bundles server code more than once
 * (`instrumentation.ts` gets its own copy of every module it imports, apart from the routes'),
 * and `next dev` evaluates modules again after every edit, so the instance lives on
 * `globalThis` rather than in module scope: every bundle then sees the same events, and
 * there is never a second ticker.
 */
const holder = globalThis as typeof globalThis & { exampleEvents?: Events };

function createEvents(): Events {
  // Enough history for a client that was away for a while to resume exactly.
  const log = createMemoryEventLog({ maxEvents: 10_000, maxAgeMs: 10 * 60_000 });
  const intervalMs = Number(process.env['TICK_INTERVAL_MS'] ?? 1_000);
  let n = 0;
  const timer = setInterval(() => {
    n += 1;
    void log.publish<Tick>(TICKS, { n, at: new Date().toISOString() });
  }, intervalMs);
  // The ticker must not keep a process alive that is otherwise done (a build worker).
  timer.unref();
  return { log, startedAt: new Date().toISOString(), tick: () => n };
}

export function events(): Events {
  holder.exampleEvents ??= createEvents();
  return holder.exampleEvents;
}
