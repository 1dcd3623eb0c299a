/**
 * Shutdown for every runtime: {@link drainForShutdown} moves a core's clients away and then
 * closes it; {@link installGracefulShutdown} wires process signals and the listener to it.
 * Nothing here imports a runtime module: `process`, when used, is looked up on `globalThis`
 * (Node, Bun and Deno 2 have it; a worker runtime does not), so this file is safe in the
 * browser-safe `trpc-sse/server` entry.
 */
import type { SSECore } from './core.js';

/**
 * What a shutdown drains: a core, or anything that carries one as `.core` (the handlers of
 * `createSSEFetchHandler`, `createSSEHandler` and `createSSEMiddleware`).
 */
export type ShutdownTarget = SSECore | { readonly core: SSECore };

/** Options of {@link drainForShutdown}. */
export interface DrainForShutdownOptions {
  /**
   * The whole window, in ms. Clients are asked to move within its first three quarters (each
   * at a random moment, so they do not all reach the next server at once), which leaves them
   * time to open their new connection; streams still open at its end are closed. The promise
   * resolves as soon as every stream has gone, which is usually well before the end.
   * @default 5_000
   */
  drainMs?: number;
}

/** What {@link drainForShutdown} found. */
export interface DrainOutcome {
  /** Streams still open when the window ended, which were then closed (0: every client moved by itself). */
  closedAtDeadline: number;
}

/** Share of the window in which clients are asked to move; the rest lets the last ones reconnect. */
const MOVE_SHARE = 0.75;
/** How often the open-stream count is looked at while waiting: only during a shutdown. */
const POLL_MS = 25;
const DEFAULT_DRAIN_MS = 5_000;

/** One drain per core: a second call (a second signal, two hooks) joins the one under way. */
const drains = new WeakMap<SSECore, Promise<number>>();

function isCore(value: unknown): value is SSECore {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const candidate = value as Partial<Record<keyof SSECore, unknown>>;
  return (
    typeof candidate.drain === 'function' &&
    typeof candidate.close === 'function' &&
    typeof candidate.openStreams === 'number'
  );
}

function coreOf(target: unknown, caller: string): SSECore {
  if (isCore(target)) return target;
  const carried =
    (typeof target === 'object' || typeof target === 'function') && target !== null
      ? (target as { core?: unknown }).core
      : undefined;
  if (isCore(carried)) return carried;
  throw new TypeError(
    `${caller}: expected an SSECore or a handler that carries one as \`.core\` (createSSEFetchHandler, createSSEHandler, createSSEMiddleware); got ${describe(target)}`,
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function')
    return 'a function without `.core` (the per-request `sseFetchHandler` keeps its core private: use `createSSEFetchHandler`)';
  return typeof value;
}

function checkDrainMs(value: number, caller: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${caller}: \`drainMs\` must be a finite number of ms ≥ 0; got ${String(value)}`);
  }
  return value;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function drainCore(core: SSECore, drainMs: number): Promise<number> {
  const deadline = performance.now() + drainMs;
  core.drain({ withinMs: Math.floor(drainMs * MOVE_SHARE), refuseNew: true });
  // Polled rather than signalled: the core has no stream-count event, and this runs once per process.
  while (core.openStreams > 0) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    await delay(Math.min(POLL_MS, left));
  }
  const closedAtDeadline = core.openStreams;
  // Also ends what outlives the streams: multiplexed connections kept for a resume, their timers.
  core.close();
  return closedAtDeadline;
}

/**
 * Drains cores for a shutdown, on any runtime: new streams are refused from now on
 * (`SERVICE_UNAVAILABLE`, which clients retry elsewhere), every client is asked to move
 * within the window (a multiplexed client opens its new connection before it lets go of the
 * old one, so it gets every event exactly once; a distinct stream ends and resumes from its
 * last tracked id), and when every stream has gone, or the window has ended, the core is
 * closed. It stops no listener and takes no signal: see {@link installGracefulShutdown} for
 * that, or call this from your own signal handler.
 *
 * Calling it again for a core whose drain is under way joins that drain.
 *
 * @example
 * ```ts
 * // Deno
 * const handler = createSSEFetchHandler({ router, endpoint: '/trpc' });
 * const server = Deno.serve((req) => handler(req));
 * Deno.addSignalListener('SIGTERM', async () => {
 *   void server.shutdown();            // stop accepting; resolves once requests have ended
 *   await drainForShutdown(handler, { drainMs: 5_000 });
 *   await server.finished;
 *   Deno.exit(0);
 * });
 * ```
 */
export async function drainForShutdown(
  targets: ShutdownTarget | readonly ShutdownTarget[],
  opts: DrainForShutdownOptions = {},
): Promise<DrainOutcome> {
  const list: readonly unknown[] = Array.isArray(targets) ? targets : [targets];
  const cores = list.map((target) => coreOf(target, 'drainForShutdown'));
  const drainMs = checkDrainMs(opts.drainMs ?? DEFAULT_DRAIN_MS, 'drainForShutdown');
  const counts = await Promise.all(
    cores.map((core) => {
      let running = drains.get(core);
      if (!running) {
        running = drainCore(core, drainMs);
        drains.set(core, running);
      }
      return running;
    }),
  );
  return { closedAtDeadline: counts.reduce((sum, n) => sum + n, 0) };
}

/**
 * A `node:http`, `node:https` or `node:http2` server, and what `@hono/node-server`'s
 * `serve()` returns: `close()` stops accepting and calls back once every connection has gone.
 */
export interface ClosableServer {
  close(callback?: (error?: Error) => void): unknown;
  closeAllConnections?: () => void;
}

/** `Bun.serve()`'s server: `stop()` stops accepting, `stop(true)` also ends open connections. */
export interface StoppableServer {
  stop(closeActiveConnections?: boolean): unknown;
}

/** `Deno.serve()`'s server: `shutdown()` stops accepting and resolves once requests have ended. */
export interface ShutdownableServer {
  shutdown(): Promise<void>;
}

/** A listener {@link installGracefulShutdown} can stop. */
export type ShutdownServer = ClosableServer | StoppableServer | ShutdownableServer;

/** A signal name (`NodeJS.Signals` fits), typed without Node's types so the option works on every runtime. */
export type ShutdownSignal = `SIG${string}`;

/** Options of {@link installGracefulShutdown}. */
export interface GracefulShutdownOptions {
  /**
   * The listener to stop. Omit it where the framework owns the listener (Next.js: `next start`
   * stops it on SIGTERM and waits for requests in flight, which the drain ends).
   */
  server?: ShutdownServer;
  /** What to drain: cores (`handler.core`) or the handlers themselves. */
  cores: readonly ShutdownTarget[];
  /**
   * How long the drain may take, in ms. Clients are asked to move within the first three
   * quarters of it (each at a random moment), which leaves them time to open their new
   * connection before whatever is left is closed. Shutdown finishes early once every
   * stream has gone.
   * @default 5_000
   */
  drainMs?: number;
  /**
   * The signals that start the shutdown, through `process.once` (Node, Bun, Deno 2). `[]`
   * installs none: call `shutdown()` yourself (the only way where there is no `process`).
   * @default ['SIGTERM', 'SIGINT']
   */
  signals?: readonly ShutdownSignal[];
  /**
   * Exit the process (code 0) when done. `false` leaves that to the framework, `onShutdown`
   * or the caller (Next.js exits by itself once its listener has closed).
   * @default true
   */
  exit?: boolean;
  /**
   * Runs after the streams are closed and before the process exits (flush logs, close a
   * database). If it throws, `shutdown()` rejects and the process is not exited with 0; after
   * a signal, that is an unhandled rejection, which the runtime reports (and exits non-zero on).
   */
  onShutdown?: () => void | Promise<void>;
}

/** The installed handler: call `shutdown()` yourself, or `dispose()` to remove the signal handlers. */
export interface GracefulShutdown {
  /** Runs the shutdown (once: later calls return the same promise). */
  shutdown(): Promise<void>;
  dispose(): void;
}

/** The part of `process` used here, found on `globalThis` (Node, Bun, Deno 2). */
interface SignalProcess {
  once(signal: string, listener: () => void): unknown;
  off(signal: string, listener: () => void): unknown;
  exit(code?: number): unknown;
}

function runtimeProcess(): SignalProcess | undefined {
  const candidate = (globalThis as { process?: Partial<SignalProcess> }).process;
  if (
    typeof candidate?.once !== 'function' ||
    typeof candidate.off !== 'function' ||
    typeof candidate.exit !== 'function'
  )
    return undefined;
  return candidate as SignalProcess;
}

/** How one kind of listener is stopped: first no new connections, then (after the drain) none at all. */
interface Listener {
  /** Stops accepting; resolves once the listener has closed. */
  stopAccepting(): Promise<void>;
  /** Ends connections still open (idle keep-alive ones), so the listener's close completes. */
  closeRemaining(): void;
}

function listenerOf(server: unknown): Listener {
  const s =
    (typeof server === 'object' || typeof server === 'function') && server !== null
      ? (server as Record<string, unknown>)
      : {};
  if (typeof s['close'] === 'function') {
    const node = server as ClosableServer;
    return {
      // An error means it was not listening: nothing to wait for.
      stopAccepting: () => new Promise((resolve) => node.close(() => resolve())),
      closeRemaining: () => node.closeAllConnections?.(),
    };
  }
  if (typeof s['shutdown'] === 'function') {
    const deno = server as ShutdownableServer;
    return {
      stopAccepting: () => Promise.resolve(deno.shutdown()).catch(() => undefined),
      closeRemaining: () => undefined,
    };
  }
  if (typeof s['stop'] === 'function') {
    const bun = server as StoppableServer;
    return {
      stopAccepting: () =>
        Promise.resolve(bun.stop()).then(
          () => undefined,
          () => undefined,
        ),
      closeRemaining: () => void Promise.resolve(bun.stop(true)).catch(() => undefined),
    };
  }
  throw new TypeError(
    'installGracefulShutdown: `server` must have close() (node:http, @hono/node-server), shutdown() (Deno.serve) or stop() (Bun.serve)',
  );
}

/**
 * Wires a deploy's SIGTERM to a drain, on Node, Bun and Deno, for every adapter: the listener
 * (if given) stops accepting, every client is asked to reconnect within `drainMs`
 * (multiplexed clients move to a new connection with no gap and no duplicate; distinct
 * streams end and resume), new streams are refused, and after the window whatever is left is
 * closed and the process exits.
 *
 * @example
 * ```ts
 * // Hono on Node
 * const handler = createSSEFetchHandler({ router, endpoint: '/trpc' });
 * const app = new Hono().all('/trpc/*', (c) => handler(c.req.raw));
 * installGracefulShutdown({ server: serve({ fetch: app.fetch, port: 3000 }), cores: [handler] });
 * ```
 */
export function installGracefulShutdown(opts: GracefulShutdownOptions): GracefulShutdown {
  const cores = opts.cores.map((target: unknown) => coreOf(target, 'installGracefulShutdown'));
  const drainMs = checkDrainMs(opts.drainMs ?? DEFAULT_DRAIN_MS, 'installGracefulShutdown');
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = opts.exit ?? true;
  const listener = opts.server === undefined ? undefined : listenerOf(opts.server);
  const proc = runtimeProcess();
  if (!proc && (signals.length > 0 || exit)) {
    throw new TypeError(
      'installGracefulShutdown: this runtime has no `process` to take signals from or to exit; pass `signals: []` and `exit: false` and call `shutdown()` yourself',
    );
  }
  let running: Promise<void> | undefined;

  const shutdown = (): Promise<void> => {
    running ??= (async () => {
      const closed = listener?.stopAccepting();
      await drainForShutdown(cores, { drainMs });
      listener?.closeRemaining();
      await closed;
      await opts.onShutdown?.();
      if (exit) proc?.exit(0);
    })();
    return running;
  };
  const onSignal = (): void => void shutdown();
  for (const signal of signals) proc?.once(signal, onSignal);
  return {
    shutdown,
    dispose() {
      for (const signal of signals) proc?.off(signal, onSignal);
    },
  };
}
