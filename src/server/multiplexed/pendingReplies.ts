import type { PlainResponse } from '../request.js';
import { unavailable } from './directoryResponses.js';

/**
 * The answers a directory awaits from the processes it forwarded control requests to, by
 * request id. An owner that never answers (it died, the message was lost) costs the client a
 * 503 after the timeout, and the client retries.
 */
export class PendingReplies {
  readonly #waiting = new Map<string, (answer: PlainResponse) => void>();
  readonly #timeoutMs: number;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Resolves with the answer given to `requestId`, or a 503 when none comes in time. */
  wait(requestId: string): Promise<PlainResponse> {
    return new Promise<PlainResponse>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(requestId);
        resolve(unavailable('the process holding the connection did not answer'));
      }, this.#timeoutMs);
      this.#waiting.set(requestId, (reply) => {
        clearTimeout(timer);
        this.#waiting.delete(requestId);
        resolve(reply);
      });
    });
  }

  /** Answers `requestId`, if it is still awaited. */
  settle(requestId: string, answer: PlainResponse): void {
    this.#waiting.get(requestId)?.(answer);
  }
}
