import type { PlainResponse } from '../request.js';

/** A control request handed from the process it reached to the process that holds the connection. */
export interface ForwardedControl {
  connectionId: string;
  secret: string | null;
  /** The request body, already read (and bounded) by the receiving process. */
  body: string;
}

/**
 * Where multiplexed connections live, across server processes. Without it, a control request
 * must reach the process that holds the stream (sticky sessions); one that reaches another
 * process is answered `421 Misdirected Request`, and the client moves to distinct mode. With one (the Redis
 * directory of `trpc-sse/redis`), any process takes it and hands it to the owner.
 */
export interface ConnectionDirectory {
  /**
   * This process now holds `connectionId`. The stream's `connection` event waits for a
   * returned promise (up to a bound, and whether it resolves or rejects), so a control
   * request sent right after it, to any process, finds the record.
   */
  announce(connectionId: string): Promise<void> | void;
  /** This process no longer holds `connectionId`. */
  withdraw(connectionId: string): void;
  /**
   * Hands a control request to the process holding its connection and resolves with that
   * process's answer; `null` when no process holds it.
   */
  forward(request: ForwardedControl): Promise<PlainResponse | null>;
  /** Called once by the core: how this process answers requests forwarded to it. */
  serve(handler: (request: ForwardedControl) => Promise<PlainResponse>): void;
}
