import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real PostgreSQL server in a fresh data directory, on a loopback port, with durability
 * off (fsync, synchronous commit): a test server, so it starts fast and writes little. Its
 * superuser is `postgres`, trusted from loopback, database `postgres`.
 */
export interface PostgresServer {
  port: number;
  /** A connection string for it. */
  url: string;
  /** Stops it (a fast shutdown) and deletes its data directory. */
  stop(): Promise<void>;
}

/** The system user the server runs as when we are root: postgres refuses to run as root. */
const SERVER_USER = 'postgres';

/**
 * Where the server programs are: Debian keeps them off PATH, in
 * /usr/lib/postgresql/<version>/bin (the newest version installed wins); elsewhere, PATH.
 */
function programsDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((version) => existsSync(join(root, version, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0] !== undefined) return join(root, versions[0], 'bin');
  return '';
}

function program(name: string): string {
  const dir = programsDir();
  return dir === '' ? name : join(dir, name);
}

/**
 * How to run a server program: as root, under the `postgres` system user (the Debian package
 * creates it) through `setpriv`, which execs in place — the child is the program itself, so a
 * signal reaches it directly, with no `su` session in between.
 */
function asServerUser(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  return ['setpriv', ['--reuid', SERVER_USER, '--regid', SERVER_USER, '--init-groups', '--', command, ...args]];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function launch(dir: string, port: number): Promise<ChildProcess> {
  const [command, args] = asServerUser(program('postgres'), [
    '-D',
    join(dir, 'data'),
    '-p',
    String(port),
    '-h',
    '127.0.0.1',
    // Its unix socket in our directory, not /var/run/postgresql (which may not exist).
    '-k',
    dir,
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'shared_buffers=16MB',
    '-c',
    'max_connections=200',
  ]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`postgres did not start: ${output}`)), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`postgres exited with ${code}: ${output}`));
    });
    const read = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
  });
}

/** Starts PostgreSQL (the suite's global setup installs the Debian package when missing). */
export async function startPostgresServer(): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'trpc-sse-postgres-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', SERVER_USER], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', SERVER_USER], { encoding: 'utf8' }));
    chownSync(dir, uid, gid);
  }
  const [initdb, initdbArgs] = asServerUser(program('initdb'), [
    '-D',
    join(dir, 'data'),
    '-U',
    'postgres',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  execFileSync(initdb, initdbArgs, { stdio: 'pipe' });
  const port = await freePort();
  const child = await launch(dir, port);
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        // SIGINT: a fast shutdown (clients are disconnected, nothing is waited for).
        child.kill('SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
