import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { freePort, launchRedis } from './redisServer.js';

const run = promisify(execFile);

/** One redis-server of the cluster. */
export interface ClusterNode {
  port: number;
  /** The cluster bus port (set apart, so it need not be `port + 10000`). */
  busPort: number;
}

/**
 * A real Redis Cluster on loopback ports: 3 masters, each with 1 replica, no persistence, a
 * low `cluster-node-timeout` so a killed master's replica takes over in a few seconds.
 */
export interface RedisCluster {
  nodes: ClusterNode[];
  /** Node timeout the cluster was started with, in ms. */
  nodeTimeoutMs: number;
  /** A client of the whole cluster (ioredis `Cluster`); closed by {@link stop}. */
  client(options?: ConstructorParameters<typeof Cluster>[1]): Cluster;
  /** The port of the master serving `key`'s slot, as that master reports it. */
  masterOf(key: string): Promise<number>;
  /** Master port → its replicas' ports, as the cluster reports it now. */
  topology(): Promise<Map<number, number[]>>;
  /**
   * A replica of `masterPort`, once the cluster lists one and it is in sync. Right after a
   * failover the old master rejoins as a replica only after a moment: a master killed before
   * then has nobody to take over its slots.
   */
  replicaOf(masterPort: number): Promise<number>;
  /** A clean, manual failover: `CLUSTER FAILOVER` on `replicaPort`; resolves once it is master. */
  failover(replicaPort: number): Promise<void>;
  /** SIGKILL one node (as a crash). */
  kill(port: number): Promise<void>;
  /**
   * Waits until `replicaPort` has been promoted to master (after its master was killed, once
   * the other masters have marked it failed: about two node timeouts).
   */
  promoted(replicaPort: number): Promise<void>;
  /** Starts a killed node again (empty; it rejoins with its old identity, as a replica). */
  restart(port: number): Promise<void>;
  /** The client connections of node `port` (`CLIENT LIST`, one line each). */
  clientList(port: number): Promise<string[]>;
  /** Waits until every running node says `cluster_state:ok` and every replica is in sync. */
  waitHealthy(): Promise<void>;
  stop(): Promise<void>;
}

function launch(node: ClusterNode, dir: string, nodeTimeoutMs: number): Promise<ChildProcess> {
  return launchRedis(node.port, dir, [
    '--cluster-port',
    String(node.busPort),
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, `nodes-${node.port}.conf`),
    '--cluster-node-timeout',
    String(nodeTimeoutMs),
    // A replica may always take over, however long its master was away.
    '--cluster-replica-validity-factor',
    '0',
  ]);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`redis cluster: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts the cluster (6 redis-server processes) and waits until it serves every slot. */
export async function startRedisCluster(opts: { nodeTimeoutMs?: number } = {}): Promise<RedisCluster> {
  const nodeTimeoutMs = opts.nodeTimeoutMs ?? 2_000;
  const dir = mkdtempSync(join(tmpdir(), 'trpc-sse-redis-cluster-'));
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < 6; i++) nodes.push({ port: await freePort(), busPort: await freePort() });
  const children = new Map<number, ChildProcess>();
  const admins = new Map<number, Redis>();
  const clients: Cluster[] = [];
  await Promise.all(
    nodes.map(async (node) => {
      children.set(node.port, await launch(node, dir, nodeTimeoutMs));
    }),
  );

  /** A plain connection to one node, for admin commands. */
  const admin = (port: number): Redis => {
    let connection = admins.get(port);
    if (!connection) {
      connection = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, lazyConnect: true });
      connection.on('error', () => undefined);
      admins.set(port, connection);
    }
    return connection;
  };
  const running = (): ClusterNode[] => nodes.filter((node) => children.has(node.port));

  const topology = async (): Promise<Map<number, number[]>> => {
    const text = String(await admin(running()[0]!.port).call('CLUSTER', 'NODES'));
    const byId = new Map<string, { port: number; master: string; flags: string }>();
    for (const line of text.trim().split('\n')) {
      const [id, address, flags, master] = line.split(' ');
      byId.set(id!, { port: Number(/:(\d+)@/.exec(address!)![1]), master: master!, flags: flags! });
    }
    const masters = new Map<number, number[]>();
    for (const node of byId.values())
      if (node.flags.includes('master') && !node.flags.includes('fail')) masters.set(node.port, []);
    for (const node of byId.values()) {
      const master = byId.get(node.master);
      if (node.flags.includes('slave') && master) masters.get(master.port)?.push(node.port);
    }
    return masters;
  };

  const waitHealthy = async (): Promise<void> => {
    await until('cluster_state:ok on every node', async () => {
      for (const node of running()) {
        const info = String(await admin(node.port).call('CLUSTER', 'INFO'));
        if (!info.includes('cluster_state:ok')) return false;
      }
      return true;
    });
    await until('replicas in sync', async () => {
      for (const node of running()) {
        const info = await admin(node.port).info('replication');
        if (info.includes('role:slave') && !info.includes('master_link_status:up')) return false;
        if (info.includes('role:slave') && info.includes('master_sync_in_progress:1')) return false;
      }
      return true;
    });
  };

  await run(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ],
    { timeout: 60_000 },
  );
  await waitHealthy();
  await until('every node knowing 3 masters with a replica each', async () => {
    const masters = await topology();
    return masters.size === 3 && [...masters.values()].every((replicas) => replicas.length === 1);
  });

  const kill = (port: number): Promise<void> =>
    new Promise((resolve) => {
      const child = children.get(port);
      children.delete(port);
      admins.get(port)?.disconnect();
      admins.delete(port);
      if (child?.exitCode !== null || child.signalCode !== null) {
        resolve();
        return;
      }
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });

  return {
    nodes,
    nodeTimeoutMs,
    client(options) {
      const cluster = new Cluster(
        nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
        { ...options, redisOptions: { maxRetriesPerRequest: null, ...options?.redisOptions } },
      );
      cluster.on('error', () => undefined);
      clients.push(cluster);
      return cluster;
    },
    async masterOf(key) {
      const slot = Number(await admin(running()[0]!.port).call('CLUSTER', 'KEYSLOT', key));
      const slots = (await admin(running()[0]!.port).call('CLUSTER', 'SLOTS')) as Array<
        [number, number, [string, number, ...unknown[]], ...unknown[]]
      >;
      const range = slots.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no master serves slot ${slot}`);
      return range[2][1];
    },
    topology,
    async replicaOf(masterPort) {
      let replica: number | undefined;
      await until(`a replica of ${masterPort} in sync`, async () => {
        replica = (await topology()).get(masterPort)?.[0];
        if (replica === undefined) return false;
        const info = await admin(replica).info('replication');
        return info.includes('master_link_status:up') && !info.includes('master_sync_in_progress:1');
      });
      return replica!;
    },
    async failover(replicaPort) {
      await admin(replicaPort).call('CLUSTER', 'FAILOVER');
      await until(`${replicaPort} to become master`, async () =>
        (await admin(replicaPort).info('replication')).includes('role:master'),
      );
      await waitHealthy();
    },
    promoted: (replicaPort) =>
      until(`${replicaPort} to become master`, async () =>
        (await admin(replicaPort).info('replication')).includes('role:master'),
      ),
    kill,
    async restart(port) {
      const node = nodes.find((candidate) => candidate.port === port)!;
      children.set(port, await launch(node, dir, nodeTimeoutMs));
    },
    waitHealthy,
    async clientList(port) {
      return String(await admin(port).call('CLIENT', 'LIST'))
        .trim()
        .split('\n');
    },
    async stop() {
      for (const cluster of clients) cluster.disconnect();
      for (const connection of admins.values()) connection.disconnect();
      await Promise.all(nodes.map((node) => kill(node.port)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
