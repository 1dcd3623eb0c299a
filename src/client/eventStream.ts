import { createSSEDecoder, type SSEMessage } from '../codec/decoder.js';
import type { ResponseLike } from './options.js';

/** Callbacks of {@link readEventStream}. */
export interface EventStreamHandlers {
  onMessage(message: SSEMessage): void;
  onRetry(ms: number): void;
  /** Any bytes arrived (events, comments, pings): the connection is alive. */
  onActivity(): void;
}

/**
 * Reads an event-stream body with `fetch`'s reader (no EventSource needed, so real headers
 * can be sent, and it runs in Node 20 and every browser alike). Resolves when the body
 * ends; rejects when it breaks or a line exceeds `maxLineLength`.
 */
export async function readEventStream(
  response: ResponseLike,
  handlers: EventStreamHandlers,
  opts: { maxLineLength: number; signal: AbortSignal },
): Promise<void> {
  if (!response.body) throw new TypeError('The event-stream response has no body');
  const decoder = createSSEDecoder({
    onEvent: (message) => handlers.onMessage(message),
    onRetry: (ms) => handlers.onRetry(ms),
    maxLineLength: opts.maxLineLength,
    // One bound for both: an event is never smaller than its longest line.
    maxEventLength: opts.maxLineLength,
  });
  const reader = response.body.getReader();
  const cancel = (): void => {
    void reader.cancel().catch(() => undefined);
  };
  opts.signal.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || opts.signal.aborted) break;
      handlers.onActivity();
      decoder.push(value);
    }
    decoder.end();
  } finally {
    opts.signal.removeEventListener('abort', cancel);
    cancel();
  }
}
