/**
 * The stores a multi-process deployment shares, started fresh by the orchestrator for each
 * case: a redis-server, a PostgreSQL, a Redis Cluster, or nothing (the memory log, which one
 * process keeps to itself). Started the way the test suite starts them (test/helpers/), so a
 * figure here and a behaviour there come from the same setup.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgresServer } from '../../test/helpers/postgresServer.js';
import { startRedisServer } from '../../test/helpers/redisServer.js';

/** What carries events (and control requests) between the server processes. */
export const BACKEND_IDS = ['memory', 'redis', 'redis-cluster', 'postgres'] as const;
export type BackendId = (typeof BACKEND_IDS)[number];

/** A comma list of backend ids (`MP_BACKENDS`); an unknown one is an error that names the known ones. */
export function parseBackendList(raw: string): BackendId[] {
  return raw.split(',').map((id) => {
    if (!(BACKEND_IDS as readonly string[]).includes(id))
      throw new Error(`unknown backend "${id}" in MP_BACKENDS (known: ${BACKEND_IDS.join(', ')})`);
    return id as BackendId;
  });
}

export interface RunningBackend {
  /**
   * How a server process reaches it (`BENCH_BACKEND_URL`): a redis:// or postgres:// URL, for
   * a cluster its nodes' redis:// URLs separated by commas; '' for the memory log.
   */
  url: string;
  /** The store's server processes (their CPU is read from /proc); none for the memory log. */
  pids(): Promise<number[]>;
  stop(): Promise<void>;
}

const SYSTEM_PACKAGES_SCRIPT = fileURLToPath(new URL('../../scripts/ensure-system-packages.sh', import.meta.url));

/**
 * Installs redis-server, redis-cli and PostgreSQL when missing, as the test suite's global setup does.
 * Throws with the script's own message when it cannot (no apt-get, no sudo).
 */
export function ensureBackendPrograms(): void {
  try {
    execFileSync(
      'bash',
      [
        SYSTEM_PACKAGES_SCRIPT,
        'redis-server=redis-server',
        'redis-cli=redis-tools',
        '/usr/lib/postgresql/*/bin/postgres=postgresql',
      ],
      { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' },
    );
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(
      `redis-server, redis-cli and PostgreSQL are needed for the multi-process bench and could not be installed: ${stderr || String(error)}`,
      { cause: error },
    );
  }
}

/** 3 masters with a replica each, as the test suite runs it; loaded only for this row. */
async function startRedisCluster(): Promise<RunningBackend> {
  const { startRedisCluster: start } = await import('../../test/helpers/redisCluster.js');
  const cluster = await start();
  const ports = cluster.nodes.map((node) => node.port);
  return {
    url: ports.map((port) => `redis://127.0.0.1:${port}`).join(','),
    pids: () => redisPids(ports),
    stop: () => cluster.stop(),
  };
}

/** Each redis-server's pid, as it reports it (`INFO server`). */
async function redisPids(ports: readonly number[]): Promise<number[]> {
  const { Redis } = await import('ioredis');
  return Promise.all(
    ports.map(async (port) => {
      const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      redis.on('error', () => undefined);
      try {
        const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
        if (!Number.isInteger(pid)) throw new Error(`redis-server on port ${port} gave no process_id`);
        return pid;
      } finally {
        redis.disconnect();
      }
    }),
  );
}

/** The postmaster's pid (its backends are its children), from `postmaster.pid` in its data directory. */
async function postgresPids(url: string): Promise<number[]> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ data_directory: string }>('SHOW data_directory');
    const pid = Number(readFileSync(join(rows[0]!.data_directory, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid)) throw new Error('postmaster.pid holds no pid');
    return [pid];
  } finally {
    await client.end();
  }
}

export async function startBackend(id: BackendId): Promise<RunningBackend> {
  switch (id) {
    case 'memory':
      return { url: '', pids: async () => [], stop: async () => undefined };
    case 'redis': {
      const redis = await startRedisServer();
      return { url: `redis://127.0.0.1:${redis.port}`, pids: () => redisPids([redis.port]), stop: () => redis.kill() };
    }
    case 'redis-cluster':
      return startRedisCluster();
    case 'postgres': {
      const postgres = await startPostgresServer();
      return { url: postgres.url, pids: () => postgresPids(postgres.url), stop: () => postgres.stop() };
    }
  }
}
