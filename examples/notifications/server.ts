/** `npx tsx examples/notifications/server.ts`, then open http://127.0.0.1:3000/?user=ada and ?user=grace. */
import { runFromCommandLine } from '../shared/cli.js';
import { startNotificationsApp } from './app.js';

await runFromCommandLine('notifications', (opts) => startNotificationsApp(opts));
