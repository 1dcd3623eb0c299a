/**
 * The Next.js example (examples/nextjs) as its test needs it: the library packed into a
 * tarball and installed the way an app installs it, `next build`, and `next start` on a free
 * loopback port. The install is cached: it runs again only when the example's package.json,
 * its lockfile or the packed library changed, so the library's own `npm install` never pays
 * for Next.js.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NEXT_APP_DIR = fileURLToPath(new URL('../../examples/nextjs/', import.meta.url));

const NEXT_BIN = join(NEXT_APP_DIR, 'node_modules', 'next', 'dist', 'bin', 'next');
const INSTALL_STAMP = join(NEXT_APP_DIR, 'node_modules', '.trpc-sse-example-install');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * Production mode whatever the test runner set (vitest sets NODE_ENV=test, which Next.js
 * refuses to build with), and no telemetry call to a network this suite does not use.
 */
function appEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1', ...extra };
}

/** Runs a command to completion; rejects with its output when it fails. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = appEnv()): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: NEXT_APP_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? code}):\n${output}`));
    });
  });
}

function installKey(): string {
  const hash = createHash('sha256');
  for (const file of ['package.json', 'package-lock.json', 'trpc-sse.tgz'])
    hash.update(readFileSync(join(NEXT_APP_DIR, file)));
  return hash.digest('hex');
}

/**
 * Packs the library (building it first if its sources are newer than `dist`) and installs the
 * example's dependencies when they are missing or out of date. Returns what it did.
 */
export async function installNextApp(): Promise<{ packed: boolean; installed: boolean }> {
  const packed = (
    await run(process.execPath, [join(NEXT_APP_DIR, 'scripts', 'pack-library.mjs')], process.env)
  ).includes('packed');
  const current =
    existsSync(INSTALL_STAMP) &&
    existsSync(NEXT_BIN) &&
    existsSync(join(NEXT_APP_DIR, 'node_modules', 'trpc-sse', 'package.json')) &&
    readFileSync(INSTALL_STAMP, 'utf8') === installKey();
  if (current) return { packed, installed: false };
  // Dev dependencies too (typescript, @types/*: `next build` type-checks), whatever NODE_ENV says.
  await run(NPM, ['install', '--prefer-offline', '--include=dev', '--no-audit', '--no-fund'], process.env);
  // Taken after the install: npm may have brought the lockfile up to date.
  writeFileSync(INSTALL_STAMP, installKey());
  return { packed, installed: true };
}

/** `next build` (production build, with Next.js' own type-check of the example). */
export async function buildNextApp(): Promise<void> {
  await run(process.execPath, [NEXT_BIN, 'build']);
}

/** A free loopback port: bound, read and released, then given to `next start`. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface NextAppStats {
  /** The tRPC route's event streams. */
  openStreams: number;
  /** The tRPC route's multiplexed connections, with or without a stream. */
  connections: number;
  /** The progress route's event streams. */
  progressStreams: number;
}

export interface NextAppProcess {
  port: number;
  url: string;
  child: ChildProcess;
  /** Everything the process printed so far. */
  readonly output: string;
  /** The handler cores' counts, from the app's `/api/stats` route. */
  stats(): Promise<NextAppStats>;
  /** Resolves once the process has exited, by itself or not. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `next start` on 127.0.0.1 and a free port; resolves once it serves requests. */
export async function startNextApp(env: Record<string, string> = {}): Promise<NextAppProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [NEXT_BIN, 'start', '--hostname', '127.0.0.1', '--port', String(port)], {
    cwd: NEXT_APP_DIR,
    // PORT as a host sets it: the app's server-side tRPC URL is built from it.
    env: appEnv({ PORT: String(port), ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Ready in')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(({ code, signal }) =>
      reject(new Error(`next start exited (${signal ?? code}) before it was ready:\n${output}`)),
    );
  });
  await ready;
  const url = `http://127.0.0.1:${port}`;
  return {
    port,
    url,
    child,
    get output() {
      return output;
    },
    exited,
    async stats() {
      const res = await fetch(`${url}/api/stats`);
      if (!res.ok) throw new Error(`/api/stats answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as NextAppStats;
    },
  };
}
