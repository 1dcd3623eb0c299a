/** A program's output streamed to the page, as an app of its own. */
import { startExampleServer, type ExampleServer } from '../shared/exampleServer.js';
import { sharedRouter } from '../shared/sharedRouter.js';
import { mergeRouters } from '../shared/trpc.js';
import { createLogsRouter } from './router.js';
import { SourceCounters } from './source.js';

const appRouter = (counters: SourceCounters) => mergeRouters(sharedRouter, createLogsRouter(counters));
export type LogStreamingAppRouter = ReturnType<typeof appRouter>;

export async function startLogStreamingApp(
  opts: { port?: number; host?: string } = {},
): Promise<ExampleServer & { sources: SourceCounters }> {
  const sources = new SourceCounters();
  const server = await startExampleServer({
    router: appRouter(sources),
    pages: [
      {
        path: '/',
        title: 'Log streaming',
        intro:
          'A program writing thousands of lines a second, streamed as bytes; a page that reads slowly slows the program down instead of filling a queue.',
        entry: new URL('./page.ts', import.meta.url),
      },
    ],
    ...(opts.port === undefined ? {} : { port: opts.port }),
    ...(opts.host === undefined ? {} : { host: opts.host }),
  });
  return Object.assign(server, { sources });
}
