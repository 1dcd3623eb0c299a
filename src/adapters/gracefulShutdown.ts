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
   * Window in which clients are asked to move (each at a random moment in it), in ms; the
   * remaining streams are then ended.
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
      for (const core of opts.cores) core.drain({ withinMs: drainMs, refuseNew: true });
      await new Promise((resolve) => setTimeout(resolve, drainMs));
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
