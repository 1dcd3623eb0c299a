/**
 * Where a topic's keys live. On one Redis server every key is reachable from one connection,
 * so a topic's keys keep the names they always had (`{prefix}t:{topic}`, `{prefix}n:{topic}`)
 * and the process reads every topic with one blocking XREAD.
 *
 * On Redis Cluster a multi-key command (the publish script, the head lookup, a blocking XREAD
 * over several topics) must name keys of ONE slot. Topics are grouped into a fixed number of
 * shards, each a hash tag: `{prefix}{3}t:{topic}`, `{prefix}{3}n:{topic}`. A topic's two keys
 * share its shard's slot, and a process reads every topic of a shard with one XREAD, so it
 * holds at most `shards` blocking connections whatever the number of topics.
 */

/** How topics map to keys, and to the shards a process reads them by. */
export interface TopicShards {
  /** How many shards there are (1 on one server). */
  readonly count: number;
  shardOf(topic: string): number;
  /** The topic's stream: its events. */
  streamKey(topic: string): string;
  /** The topic's counter: its last ordinal. */
  counterKey(topic: string): string;
}

/** Keys as on one Redis server: no hash tags, one shard. */
export function singleServerShards(prefix: string): TopicShards {
  return {
    count: 1,
    shardOf: () => 0,
    streamKey: (topic) => `${prefix}t:${topic}`,
    counterKey: (topic) => `${prefix}n:${topic}`,
  };
}

/** Keys for Redis Cluster: `count` hash-tagged shards. */
export function clusterShards(prefix: string, count: number): TopicShards {
  if (!Number.isInteger(count) || count < 1 || count > 16_384)
    throw new TypeError(`shards must be an integer from 1 to 16384, got ${String(count)}`);
  // Redis hashes the first `{…}` of a key: a brace in the prefix would move the shard's tag.
  if (/[{}]/.test(prefix)) throw new TypeError(`keyPrefix must not contain "{" or "}" on Redis Cluster: ${prefix}`);
  const tag = (shard: number): string => `${prefix}{${shard}}`;
  const shardOf = (topic: string): number => stableHash(topic) % count;
  return {
    count,
    shardOf,
    streamKey: (topic) => `${tag(shardOf(topic))}t:${topic}`,
    counterKey: (topic) => `${tag(shardOf(topic))}n:${topic}`,
  };
}

/** The key of something a shard's reader owns (its wake-up stream), in that shard's slot. */
export function shardKey(prefix: string, shard: number, name: string): string {
  return `${prefix}{${shard}}${name}`;
}

/**
 * FNV-1a over the topic's UTF-16 code units: the same in every process and every version, so
 * every process finds a topic in the same shard (a change here would orphan stored streams).
 */
function stableHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
