import { TRPCError } from '@trpc/server';
import { sharedValueOf } from '../log/sharedValue.js';

/*
 * What a tracked id may be: the one rule for the ids the server writes (a `tracked()` value, a
 * log's checkpoint or reset) and the ids it accepts back on a resume (`Last-Event-ID`, a
 * multiplexed `subscribe` op). An id the server wrote is therefore always accepted back, and
 * an id it would refuse back is never written: it fails its subscription where it is made.
 *
 * At most `maxLastEventIdLength` UTF-16 code units, no C0 control character (below U+0020)
 * nor DEL (U+007F), and no unpaired surrogate. Any other character is allowed, non-Latin-1
 * ones included.
 */

const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
/** A UTF-16 surrogate without its pair: it has no UTF-8 form, so the id could not travel back intact. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What is wrong with `id` as a tracked id, or `undefined` when nothing is. */
export function trackedIdProblem(id: string, maxLength: number): string | undefined {
  if (id.length > maxLength) return `it is ${id.length} characters long, more than maxLastEventIdLength (${maxLength})`;
  const control = CONTROL_CHARACTER.exec(id);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    return `it contains the control character U+${code} at index ${control.index}`;
  }
  const lone = LONE_SURROGATE.exec(id);
  if (lone) return `it contains an unpaired surrogate at index ${lone.index} (no UTF-8 form)`;
  return undefined;
}

/**
 * Checks the id of a `tracked()` value the server is about to write. An event log's value is
 * let through unchecked: the log made its id by this rule (its tests hold it to that), and a
 * fan-out would otherwise check the same id once per subscriber, on the write path.
 */
export function checkEmittedId(envelope: readonly unknown[], maxLength: number): void {
  if (sharedValueOf(envelope) === undefined) checkTrackedId(String(envelope[0]), maxLength);
}

/**
 * Checks an id the server is about to write. A procedure whose id could not come back on a
 * resume fails now, with the reason, rather than on the client's first reconnect.
 * @throws TRPCError `INTERNAL_SERVER_ERROR` naming the problem.
 */
export function checkTrackedId(id: string, maxLength: number): string {
  const problem = trackedIdProblem(id, maxLength);
  if (problem !== undefined) {
    throw new TRPCError({
      code: 'INTERNAL_SERVER_ERROR',
      message: `Invalid tracked id: ${problem}; a client could not resume from it (ids: at most maxLastEventIdLength characters, no control characters)`,
    });
  }
  return id;
}
