/** What the benchmark procedures yield. `ts` is the send time on the shared clock (lib/clock.ts). */
export interface TickEvent {
  seq: number;
  ts: number;
}

/** One value of the deterministic tracked counter; `g` is the server generation that sent it. */
export interface CounterEvent {
  seq: number;
  g: number;
}

/**
 * tRPC clients hand a `tracked()` value to `onData` as `{ id, data }`; untracked values come
 * as they are. The probes only want the payload.
 */
function payload(value: unknown): unknown {
  if (value && typeof value === 'object' && 'id' in value && 'data' in value) {
    if (typeof value.id === 'string') return value.data;
  }
  return value;
}

/** The `{ seq, ts }` of a tick or stream value, or null for anything else. */
export function asTick(value: unknown): TickEvent | null {
  const v = payload(value) as Partial<TickEvent> | null;
  return v && typeof v.seq === 'number' && typeof v.ts === 'number' ? (v as TickEvent) : null;
}

export function asCounter(value: unknown): CounterEvent | null {
  const v = payload(value) as Partial<CounterEvent> | null;
  return v && typeof v.seq === 'number' && typeof v.g === 'number' ? (v as CounterEvent) : null;
}
