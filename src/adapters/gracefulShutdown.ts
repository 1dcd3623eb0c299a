import type { SSECore } from '../server/core.js';

/** Something that listens: `node:http`, `node:https` or `node:http2` servers. */
export interface ClosableServer {
  close(callback?: (error?: Error) => void): unknown;
  closeAllConnections?: () => void;
}

/** Options of {@link installGracefulShutdown}. */
export interface GracefulShutdownOptions {
  /** The server whose listener stops accepting connections. */
  server: ClosableServer;
  /** The cores (`handler.core`, `middleware.core`) whose clients are drained. */
  cores: SSECore[];
  /**
   * How long the drain may take, in ms. Clients are asked to move within the first three
   * quarters of it (each at a random moment), which leaves them time to open their new
   * connection before whatever is left is closed. Shutdown finishes early once every
   * stream has gone.
   * @default 5_000
   */
  drainMs?: number;
  /** @default ['SIGTERM', 'SIGINT'] */
  signals?: NodeJS.Signals[];
  /**
   * Exit the process when done. `false` leaves that to `onShutdown` or the caller.
   * @default true
   */
  exit?: boolean;
  /** Runs after the streams are closed and before the process exits (flush logs, close a database). */
  onShutdown?: () => void | Promise<void>;
}

/** Resolves when no core has a stream left, or after `timeoutMs`. */
async function untilAllStreamsGone(cores: SSECore[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && cores.some((core) => core.openStreams > 0)) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, Math.max(1, deadline - Date.now()))));
  }
}

/** The installed handler: call `shutdown()` yourself, or `dispose()` to remove the signal handlers. */
export interface GracefulShutdown {
  shutdown(): Promise<void>;
  dispose(): void;
}

/**
 * Wires a deploy's SIGTERM to a drain: the listener stops accepting, every client is asked to
 * reconnect within `drainMs` (multiplexed clients move to a new connection with no gap and no
 * duplicate; distinct streams end and resume), new streams are refused, and after the window
 * whatever is left is closed and the process exits.
 */
export function installGracefulShutdown(opts: GracefulShutdownOptions): GracefulShutdown {
  const drainMs = opts.drainMs ?? 5_000;
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  let running: Promise<void> | undefined;

  const shutdown = (): Promise<void> => {
    running ??= (async () => {
      const closed = new Promise<void>((resolve) => opts.server.close(() => resolve()));
      for (const core of opts.cores) core.drain({ withinMs: Math.floor(drainMs * 0.75), refuseNew: true });
      await untilAllStreamsGone(opts.cores, drainMs);
      for (const core of opts.cores) core.close();
      opts.server.closeAllConnections?.();
      await closed;
      await opts.onShutdown?.();
      if (opts.exit ?? true) process.exit(0);
    })();
    return running;
  };
  const onSignal = (): void => void shutdown();
  for (const signal of signals) process.once(signal, onSignal);
  return {
    shutdown,
    dispose() {
      for (const signal of signals) process.off(signal, onSignal);
    },
  };
}
