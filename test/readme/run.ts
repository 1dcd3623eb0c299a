/**
 * Running README blocks: a server block in a child process as a reader would start it (tsx),
 * moved to an ephemeral port by listenHook.ts; a shell command (the README's curl line); and
 * text that arrives bit by bit, awaited for what it must contain.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LISTEN_HOOK = fileURLToPath(new URL('./listenHook.ts', import.meta.url));

/** Text a process writes, and a way to wait until it says something. */
export class Output {
  text = '';
  #waiters = new Set<() => void>();
  #ended: string | undefined;
  #onEnd!: (why: string) => void;
  /** Resolves, with the reason, once nothing more will come. */
  readonly ended = new Promise<string>((resolve) => (this.#onEnd = resolve));

  append(chunk: string): void {
    this.text += chunk;
    for (const wake of this.#waiters) wake();
  }

  /** Nothing more will come (the process exited); waiters still unmet fail with `why`. */
  end(why: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = why;
    this.#onEnd(why);
    for (const wake of this.#waiters) wake();
  }

  /**
   * Resolves with the text once `predicate` holds. Fails when the writer ends first or after
   * `timeoutMs` (a bound for a broken run, not a delay: a healthy run resolves as soon as the
   * text arrives), with the text so far.
   */
  until(what: string, predicate: (text: string) => boolean, timeoutMs = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (predicate(this.text)) {
          done();
          resolve(this.text);
        } else if (this.#ended !== undefined) {
          done();
          reject(new Error(`${what}: ${this.#ended} first. Output so far:\n${this.text}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: not within ${timeoutMs} ms. Output so far:\n${this.text}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }
}

/** A child process whose output is collected. */
export interface Running {
  child: ChildProcess;
  output: Output;
  /** Resolves with the exit code (null after a signal) once the process has exited. */
  exited: Promise<number | null>;
  /** SIGKILL, unless it has exited already; resolves once it has. */
  kill: () => Promise<void>;
}

function collect(child: ChildProcess, what: string): Running {
  const output = new Output();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => output.append(chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => output.append(chunk));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      output.end(`${what} exited (${signal ?? code})`);
      resolve(code);
    });
  });
  return {
    child,
    output,
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A server block running in its own process. */
export interface RunningServer extends Running {
  /** Where it listens, e.g. `http://127.0.0.1:41234`. */
  origin: string;
}

/**
 * Runs `file` (in `cwd`, the scratch project) as `node --import tsx file` would, and resolves
 * once it listens. Fails with the process's output if it exits or never listens.
 */
export function runServerBlock(cwd: string, file: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', LISTEN_HOOK, file], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, ...env },
  });
  const running = collect(child, file);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void running.kill();
      reject(new Error(`${file} did not listen within 30 s:\n${running.output.text}`));
    }, 30_000);
    child.once('message', (message: { listening?: { port?: number } }) => {
      clearTimeout(timer);
      resolve({ ...running, origin: `http://127.0.0.1:${message.listening?.port ?? 0}` });
    });
    void running.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited (${code}) before it listened:\n${running.output.text}`));
    });
  });
}

/** Runs a TypeScript file with tsx in `cwd`; resolves with its exit code and output once it ends. */
export async function runScript(
  cwd: string,
  file: string,
  args: string[] = [],
): Promise<{ code: number | null; output: string }> {
  const running = collect(
    spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] }),
    file,
  );
  const code = await running.exited;
  return { code, output: running.output.text };
}

/** Runs a shell command line (`sh -c`), as a reader pastes it into a terminal. */
export function runShell(line: string): Running {
  // A process group of its own: `kill` ends the command the shell started too. Standard
  // error (curl's progress meter, when its output is not a terminal) is left out.
  const child = spawn('sh', ['-c', line], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  const running = collect(child, 'the command');
  return {
    ...running,
    kill: async () => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group has ended already.
        }
      }
      await running.exited;
    },
  };
}

/** Whether a program is on the PATH. */
export function hasProgram(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * What a `curl` line asks for: its URL and `-H` headers (single- or double-quoted, or bare
 * words), for running the same request with fetch where curl is missing.
 */
export function parseCurl(line: string): { url: string; headers: Record<string, string> } {
  const words = [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
  const headers: Record<string, string> = {};
  let url: string | undefined;
  for (let i = 1; i < words.length; i++) {
    const word = words[i] ?? '';
    if (word === '-H' || word === '--header') {
      const header = words[++i] ?? '';
      const colon = header.indexOf(':');
      headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
    } else if (/^https?:\/\//.test(word)) {
      url = word;
    }
  }
  if (!url) throw new Error(`no URL in: ${line}`);
  return { url, headers };
}

/** Reads `response`'s body into `output` as it arrives, until it ends or `signal` aborts. */
export async function pipeBody(response: Response, output: Output, signal: AbortSignal): Promise<void> {
  const reader = response.body?.getReader();
  if (!reader) {
    output.end('the response had no body');
    return;
  }
  const decoder = new TextDecoder();
  signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined), { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      output.append(decoder.decode(value, { stream: true }));
    }
    output.end('the stream ended');
  } catch (error) {
    output.end(`the stream failed (${String(error)})`);
  }
}
