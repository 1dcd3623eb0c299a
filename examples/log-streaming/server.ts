/** `npx tsx examples/log-streaming/server.ts` (`?rate=20000` on the page for more lines per second). */
import { runFromCommandLine } from '../shared/cli.js';
import { startLogStreamingApp } from './app.js';

await runFromCommandLine('log streaming', (opts) => startLogStreamingApp(opts));
