/**
 * `node:diagnostics_channel`, reached without importing it: the server entry must bundle for
 * browsers and fetch runtimes, where no Node built-in exists. `process.getBuiltinModule`
 * (Node ≥ 20.16, Bun, Deno) hands the module over at run time, and elsewhere every channel is
 * a silent stand-in whose `hasSubscribers` is always false, so callers build no message.
 */

/** The part of a diagnostics channel the server uses. */
export interface PointChannel<T> {
  readonly hasSubscribers: boolean;
  publish(message: T): void;
}

/** The part of a tracing channel the server uses (start, end, asyncStart, asyncEnd, error). */
export interface TracingChannelLike<T extends object> {
  readonly hasSubscribers: boolean;
  tracePromise<R, A extends unknown[]>(
    fn: (...args: A) => Promise<R>,
    context: T,
    thisArg: unknown,
    ...args: A
  ): Promise<R>;
}

interface DiagnosticsChannelModule {
  channel(name: string): PointChannel<unknown>;
  tracingChannel(name: string): TracingChannelLike<object>;
}

const SILENT_CHANNEL: PointChannel<unknown> = { hasSubscribers: false, publish: () => undefined };

const SILENT_TRACING: TracingChannelLike<object> = {
  hasSubscribers: false,
  tracePromise: (fn, _context, thisArg, ...args) => Reflect.apply(fn, thisArg, args),
};

function loadDiagnosticsChannel(): DiagnosticsChannelModule | undefined {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return runtime?.getBuiltinModule?.('node:diagnostics_channel') as DiagnosticsChannelModule | undefined;
  } catch {
    return undefined;
  }
}

const diagnostics = loadDiagnosticsChannel();

/** A named point channel (or the silent stand-in where there is no `diagnostics_channel`). */
export function pointChannel<T>(name: string): PointChannel<T> {
  return diagnostics?.channel(name) ?? SILENT_CHANNEL;
}

/** A named tracing channel (or the silent stand-in where there is no `diagnostics_channel`). */
export function tracingChannel<T extends object>(name: string): TracingChannelLike<T> {
  return diagnostics?.tracingChannel(name) ?? SILENT_TRACING;
}
