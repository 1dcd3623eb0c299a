/**
 * Runs `fn` in a later task, once the current one and its microtasks are done, without the
 * clamping of `setTimeout(0)` (1 ms in Node; in a hidden browser tab at least 1 s, and up to a
 * minute under Chrome's intensive throttling): `setImmediate` in Node, a `MessageChannel`
 * message in browsers (as React's scheduler does). It does not keep a Node process alive.
 * Returns a function that cancels it.
 */
export function nextTask(fn: () => void): () => void {
  let cancelled = false;
  const run = (): void => {
    if (!cancelled) fn();
  };
  if (typeof setImmediate === 'function') {
    const immediate = setImmediate(run);
    (immediate as { unref?: () => void }).unref?.();
    return () => {
      cancelled = true;
      clearImmediate(immediate);
    };
  }
  if (typeof MessageChannel === 'function') {
    postTask(run);
    return () => void (cancelled = true);
  }
  const timer = setTimeout(run, 0);
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}

/** One channel for every task posted: each message runs what was queued before it. */
let channel: MessageChannel | undefined;
let queued: Array<() => void> = [];

function postTask(run: () => void): void {
  if (!channel) {
    channel = new MessageChannel();
    channel.port1.onmessage = () => {
      const runs = queued;
      queued = [];
      for (const each of runs) each();
    };
  }
  queued.push(run);
  channel.port2.postMessage(undefined);
}
