/**
 * Per-user notifications as an app of its own. `store` and `sessions` stand for the app's
 * database: pass the same ones to a restarted server and they survive it, while the memory
 * event log does not (its pages get a reset, and fetch their inbox again).
 */
import { createMemoryEventLog } from 'trpc-sse/server';
import { startExampleServer, type ExampleServer } from '../shared/exampleServer.js';
import { sharedRouter } from '../shared/sharedRouter.js';
import type { Sessions } from '../shared/sessions.js';
import { mergeRouters } from '../shared/trpc.js';
import { createNotificationsRouter } from './router.js';
import { NotificationStore, Notifier } from './store.js';

const appRouter = (notifier: Notifier) => mergeRouters(sharedRouter, createNotificationsRouter(notifier));
export type NotificationsAppRouter = ReturnType<typeof appRouter>;

export async function startNotificationsApp(
  opts: { port?: number; host?: string; store?: NotificationStore; sessions?: Sessions } = {},
): Promise<ExampleServer & { notifier: Notifier }> {
  const log = createMemoryEventLog();
  const notifier = new Notifier(opts.store ?? new NotificationStore(), log);
  const server = await startExampleServer({
    router: appRouter(notifier),
    pages: [
      {
        path: '/',
        title: 'Notifications',
        intro: 'Per user: open <a href="?user=grace">?user=grace</a> in another tab and send each other notifications.',
        entry: new URL('./page.ts', import.meta.url),
      },
    ],
    ...(opts.port === undefined ? {} : { port: opts.port }),
    ...(opts.host === undefined ? {} : { host: opts.host }),
    ...(opts.sessions ? { sessions: opts.sessions } : {}),
    onClose: () => log.close(),
  });
  return Object.assign(server, { notifier });
}
