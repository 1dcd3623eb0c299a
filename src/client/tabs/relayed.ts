/**
 * Marks, in its `context`, an operation a leader tab carries for another tab: the leader's own
 * client-wide `onReset` is not told of it (the other tab's is, through a `reset` message).
 */
export const RELAYED = Symbol.for('trpc-sse.relayed');
