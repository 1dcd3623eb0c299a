import type { Cluster, Redis } from 'ioredis';

/**
 * The cluster slot of `key`, as Redis computes it: CRC16 (XMODEM) of the key, or of its hash
 * tag (the first non-empty `{…}`), modulo 16384.
 */
function clusterSlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of new TextEncoder().encode(key)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16_384;
}

/**
 * The connection the cluster client sends `key`'s commands on (the master of its slot, as the
 * client last learned it), for a command that names no key but must reach that node: `WAIT`
 * counts the replicas that have this connection's writes.
 */
export function connectionOf(cluster: Cluster, key: string): Redis | undefined {
  const nodeKey = cluster.slots[clusterSlot(key)]?.[0];
  if (nodeKey === undefined) return undefined;
  return cluster.nodes('master').find((node) => `${node.options.host ?? ''}:${node.options.port ?? ''}` === nodeKey);
}
