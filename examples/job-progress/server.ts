/** `npx tsx examples/job-progress/server.ts` */
import { runFromCommandLine } from '../shared/cli.js';
import { startJobProgressApp } from './app.js';

await runFromCommandLine('job progress', (opts) => startJobProgressApp(opts));
