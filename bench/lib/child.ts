/**
 * The orchestrator side: fork a benchmark process (TypeScript, through tsx, with `gc()`
 * exposed), wait for it to say ready, call commands with a time limit, and stop it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Reply } from './ipc.js';
import { sleep } from './clock.js';

export interface Child {
  readonly proc: ChildProcess;
  readonly name: string;
  /** Resolves with the child's ready payload. */
  readonly ready: Promise<unknown>;
  call<T>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Asks the child to exit, then SIGKILLs it after a grace period. */
  stop(): Promise<void>;
  /** SIGKILL now (the reconnect storm's crash), resolves when it has exited. */
  crash(): Promise<void>;
  /** The last lines the child wrote to stderr (warnings, stack traces). */
  stderrTail(): string;
}

const STDERR_KEEP = 4_000;

/**
 * `BENCH_PROFILE_DIR=dir` writes a V8 CPU profile of every child to `dir` when it exits
 * (open it in Chrome DevTools or speedscope). Profiling slows the children: figures from such a
 * run are for finding where time goes, not for the table.
 */
function profileArgs(): string[] {
  const dir = process.env['BENCH_PROFILE_DIR'];
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

export function forkChild(script: string, args: string[], env: Record<string, string>, readyTimeoutMs = 20_000): Child {
  const file = fileURLToPath(new URL(`../processes/${script}`, import.meta.url));
  const proc = fork(file, args, {
    execArgv: ['--import', 'tsx', '--expose-gc', ...profileArgs()],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  const name = `${script} ${args.join(' ')}`;
  let stderr = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEEP);
  });

  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  let onReady!: (data: unknown) => void;
  let onReadyFail!: (e: Error) => void;
  const readyPromise = new Promise<unknown>((resolve, reject) => {
    onReady = resolve;
    onReadyFail = reject;
  });
  const readyTimer = setTimeout(
    () => onReadyFail(new Error(`${name}: not ready after ${readyTimeoutMs} ms`)),
    readyTimeoutMs,
  );
  readyPromise.catch(() => undefined).finally(() => clearTimeout(readyTimer));

  proc.on('message', (raw) => {
    const msg = raw as Reply;
    if (msg.type === 'ready') {
      onReady(msg.data);
      return;
    }
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.data);
    else p.reject(new Error(`${name}: ${msg.error}`));
  });
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', (code, signal) => {
      const err = new Error(`${name} exited (${signal ?? code})${stderr ? `: ${stderr.slice(-500)}` : ''}`);
      onReadyFail(err);
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      pending.clear();
      resolve();
    });
  });
  const alive = (): boolean => proc.exitCode === null && proc.signalCode === null;

  return {
    proc,
    name,
    ready: readyPromise,
    call<T>(cmd: string, callArgs: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
      if (!alive()) return Promise.reject(new Error(`${name} is not running (${cmd})`));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: ${cmd} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        proc.send({ id, cmd, args: callArgs });
      });
    },
    async stop() {
      if (!alive()) return;
      try {
        proc.send({ id: 0, cmd: 'exit' });
      } catch {
        // the channel is already closed; SIGKILL below
      }
      if (!(await Promise.race([exited.then(() => true), sleep(3_000).then(() => false)]))) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
    async crash() {
      if (alive()) proc.kill('SIGKILL');
      await exited;
    },
    stderrTail: () => stderr.trim(),
  };
}
