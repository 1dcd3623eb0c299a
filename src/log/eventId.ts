/**
 * Event ids of the memory log: `<epoch>-<sequence>`. The epoch names one life of the log (a
 * fresh memory log), so an id from another life is recognised instead of being compared as if
 * it were ours. The Redis log's ids carry an epoch too but have more parts
 * (`<epoch>-<ordinal>-<ms>-<seq>`): `parseEventId` returns `null` for them.
 */
export interface EventId {
  epoch: string;
  seq: number;
}

const ID_PATTERN = /^([A-Za-z0-9_]{1,64})-(\d{1,15})$/;

export function formatEventId(epoch: string, seq: number): string {
  return `${epoch}-${seq}`;
}

/** The parts of a memory log id, or `null` for anything else (garbage, huge, negative, a Redis log's id). */
export function parseEventId(id: string | null | undefined): EventId | null {
  if (typeof id !== 'string') return null;
  const match = ID_PATTERN.exec(id);
  if (!match) return null;
  const seq = Number(match[2]);
  return Number.isSafeInteger(seq) ? { epoch: match[1]!, seq } : null;
}
