/**
 * The child side of the orchestrator's IPC: `{ id, cmd, args }` in, `{ id, ok, data | error }`
 * out. Every child stops by itself: when the parent goes away, when told to, and at the latest
 * after its lifetime, so no benchmark process can outlive a run.
 */

export type Handler = (args: Record<string, unknown>) => unknown;

export interface Request {
  id: number;
  cmd: string;
  args?: Record<string, unknown>;
}

export type Reply =
  | { type: 'ready'; data: unknown }
  | { type: 'reply'; id: number; ok: true; data: unknown }
  | { type: 'reply'; id: number; ok: false; error: string };

const DEFAULT_LIFETIME_MS = 300_000;

export function serveIpc(handlers: Record<string, Handler>, ready: unknown): void {
  const send = (msg: Reply): void => {
    if (process.connected) process.send!(msg);
  };
  process.on('message', (raw: unknown) => {
    const msg = raw as Request;
    if (msg.cmd === 'exit') process.exit(0);
    const handler = handlers[msg.cmd];
    if (!handler) {
      send({ type: 'reply', id: msg.id, ok: false, error: `unknown command ${msg.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(msg.args ?? {}))
      .then(
        (data) => send({ type: 'reply', id: msg.id, ok: true, data }),
        (error: unknown) =>
          send({ type: 'reply', id: msg.id, ok: false, error: String((error as Error)?.stack ?? error) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
  const lifetimeMs = Number(process.env['BENCH_LIFETIME_MS'] ?? DEFAULT_LIFETIME_MS);
  setTimeout(() => process.exit(3), lifetimeMs).unref();
  send({ type: 'ready', data: ready });
}

/** A number argument, with a default; rejects anything that is not a finite number. */
export function num(args: Record<string, unknown>, key: string, fallback?: number): number {
  const value = args[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`argument ${key} must be a number`);
  return value;
}
