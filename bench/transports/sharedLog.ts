/**
 * A server process's side of a shared backend: the event log and the connection directory an
 * app of several processes would configure (trpc-sse/redis, trpc-sse/postgres), or the memory
 * log alone for the one-process reference. Driver libraries load only for the backend in use.
 * Nothing is closed: the process is forked for one case and its store goes with it.
 */
import type { ConnectionDirectory, EventLog } from 'trpc-sse/server';
import type { BackendId } from '../lib/backends.js';

export interface SharedLog {
  log: EventLog;
  /** Absent for the memory log: one process, no one to hand control requests to. */
  directory?: ConnectionDirectory;
}

/** Every other option at its default, as an app would leave it; the prefix keeps the bench's keys and tables apart. */
const PREFIX = 'bench:';

export async function createSharedLog(backend: BackendId, url: string): Promise<SharedLog> {
  switch (backend) {
    case 'memory': {
      const { createMemoryEventLog } = await import('trpc-sse/server');
      return { log: createMemoryEventLog({ maxEvents: 1_000 }) };
    }
    case 'redis': {
      const { Redis } = await import('ioredis');
      const { createRedisConnectionDirectory, createRedisEventLog } = await import('trpc-sse/redis');
      const redis = new Redis(url, { maxRetriesPerRequest: null });
      redis.on('error', () => undefined);
      const directory = createRedisConnectionDirectory({ redis, keyPrefix: PREFIX });
      return {
        log: createRedisEventLog({ redis, keyPrefix: PREFIX }),
        directory,
      };
    }
    case 'redis-cluster':
      return createClusterLog(url);
    case 'postgres': {
      const { default: pg } = await import('pg');
      const { createPostgresConnectionDirectory, createPostgresEventLog } = await import('trpc-sse/postgres');
      const pool = new pg.Pool({ connectionString: url, max: 10 });
      pool.on('error', () => undefined);
      const directory = createPostgresConnectionDirectory({ pool, tablePrefix: 'bench_' });
      return {
        log: createPostgresEventLog({ pool, tablePrefix: 'bench_' }),
        directory,
      };
    }
  }
}

async function createClusterLog(urls: string): Promise<SharedLog> {
  const { Cluster } = await import('ioredis');
  const { createRedisConnectionDirectory, createRedisEventLog } = await import('trpc-sse/redis');
  const nodes = urls.split(',').map((u) => {
    const parsed = new URL(u);
    return { host: parsed.hostname, port: Number(parsed.port) };
  });
  const redis = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: null } });
  redis.on('error', () => undefined);
  // No hash tag in the prefix: the log spreads its topics over the cluster's slots itself.
  return {
    log: createRedisEventLog({ redis, keyPrefix: PREFIX }),
    directory: createRedisConnectionDirectory({ redis, keyPrefix: PREFIX }),
  };
}
