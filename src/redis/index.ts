/**
 * `trpc-sse/redis`: the event log on Redis Streams, for several server processes.
 * Takes an ioredis client (an optional peer dependency).
 * @module
 */
export { createRedisEventLog, type RedisEventLogOptions } from './redisEventLog.js';
export {
  createRedisConnectionDirectory,
  type RedisConnectionDirectory,
  type RedisConnectionDirectoryOptions,
} from './connectionDirectory.js';
