/**
 * Headless Chromium driven over the DevTools protocol directly, through
 * `--remote-debugging-pipe` (fd 3: commands in, fd 4: replies and events out, each message
 * NUL-terminated JSON). Not playwright: it enables the protocol's Network domain on every page,
 * and Chromium then reports every EventSource message and every response chunk to it, work
 * that would be charged to the very readers this scenario compares. Here only the domains the
 * scenario asks for are on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from '../../test/helpers/browser.js';

type Params = Record<string, unknown>;
type EventHandler = (params: Params, sessionId: string | undefined) => void;

/** The flags of the test suite's Chromium, plus headless and the pipe. */
const FLAGS = ['--headless', '--remote-debugging-pipe', ...CHROMIUM_FLAGS, '--disable-extensions', '--mute-audio'];

export class Chromium {
  readonly #proc: ChildProcess;
  readonly #in: Writable;
  readonly #profileDir: string;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve(v: Params): void; reject(e: Error): void }>();
  readonly #listeners = new Map<string, Set<EventHandler>>();
  #exited: Error | null = null;

  private constructor(executable: string) {
    this.#profileDir = mkdtempSync(join(tmpdir(), 'trpc-sse-bench-chromium-'));
    this.#proc = spawn(executable, [...FLAGS, `--user-data-dir=${this.#profileDir}`, 'about:blank'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
    });
    this.#in = this.#proc.stdio[3] as Writable;
    const out = this.#proc.stdio[4] as Readable;
    let buffer = '';
    out.setEncoding('utf8');
    out.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\0'); end !== -1; end = buffer.indexOf('\0')) {
        this.#receive(JSON.parse(buffer.slice(0, end)) as Record<string, unknown>);
        buffer = buffer.slice(end + 1);
      }
    });
    this.#proc.once('exit', (code, signal) => {
      this.#exited = new Error(`chromium exited (${signal ?? code})`);
      for (const p of this.#pending.values()) p.reject(this.#exited);
      this.#pending.clear();
      rmSync(this.#profileDir, { recursive: true, force: true });
    });
    // This process may end without closing the browser (the orchestrator's SIGKILL cannot be
    // caught, an exit command can): never leave it running.
    process.once('exit', () => {
      this.#proc.kill('SIGKILL');
      try {
        rmSync(this.#profileDir, { recursive: true, force: true });
      } catch {
        // a file the dying browser still wrote: the temp dir is the system's to clean
      }
    });
  }

  /** `CHROMIUM_PATH` or Debian's /usr/bin/chromium; resolves once the protocol answers. */
  static async launch(executable = CHROMIUM_PATH): Promise<Chromium> {
    const browser = new Chromium(executable);
    await browser.send('Browser.getVersion');
    return browser;
  }

  #receive(msg: Record<string, unknown>): void {
    if (typeof msg['id'] === 'number') {
      const p = this.#pending.get(msg['id']);
      if (!p) return;
      this.#pending.delete(msg['id']);
      const error = msg['error'] as { message?: string } | undefined;
      if (error) p.reject(new Error(`CDP: ${error.message ?? JSON.stringify(error)}`));
      else p.resolve((msg['result'] ?? {}) as Params);
      return;
    }
    const handlers = this.#listeners.get(msg['method'] as string);
    if (handlers)
      for (const handler of handlers) handler((msg['params'] ?? {}) as Params, msg['sessionId'] as string | undefined);
  }

  /** A protocol command, to the browser, or to a page's session (`Target.attachToTarget` with `flatten`). */
  send<T = Params>(method: string, params: Params = {}, sessionId?: string): Promise<T> {
    if (this.#exited) return Promise.reject(this.#exited);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: Params) => void, reject });
      this.#in.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  }

  on(method: string, handler: EventHandler): () => void {
    let set = this.#listeners.get(method);
    if (!set) this.#listeners.set(method, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** A new page (its own browser context, so nothing carries over) attached in flat mode. */
  async newPage(): Promise<{ sessionId: string; close(): Promise<void> }> {
    const { browserContextId } = await this.send<{ browserContextId: string }>('Target.createBrowserContext');
    const { targetId } = await this.send<{ targetId: string }>('Target.createTarget', {
      url: 'about:blank',
      browserContextId,
    });
    const { sessionId } = await this.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
    return {
      sessionId,
      close: async () => {
        await this.send('Target.closeTarget', { targetId }).catch(() => undefined);
        await this.send('Target.disposeBrowserContext', { browserContextId }).catch(() => undefined);
      },
    };
  }

  /** Evaluates `expression` in the page, waits for its promise, returns its value. */
  async evaluate<T>(sessionId: string, expression: string): Promise<T> {
    const r = await this.send<{
      result: { value?: unknown };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    }>('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId);
    if (r.exceptionDetails)
      throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise((resolve) => this.#proc.once('exit', resolve));
    await this.send('Browser.close').catch(() => undefined);
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
}
