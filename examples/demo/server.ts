/** `npm run demo`: the demo on http://127.0.0.1:3000 (PORT and HOST override). */
import { runFromCommandLine } from '../shared/cli.js';
import { startDemo } from './app.js';

await runFromCommandLine('trpc-sse demo', (opts) => startDemo(opts));
