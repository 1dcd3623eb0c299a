/** `npx tsx examples/activity-feed/server.ts` (REDIS_URL=redis://127.0.0.1:6379 for the Redis log). */
import { runFromCommandLine } from '../shared/cli.js';
import { startActivityFeedApp } from './app.js';

await runFromCommandLine('activity feed', (opts) =>
  startActivityFeedApp({ ...opts, redisUrl: process.env['REDIS_URL'] }),
);
