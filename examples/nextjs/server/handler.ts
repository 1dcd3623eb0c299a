import { createSSEFetchHandler, type SSEFetchHandler } from 'trpc-sse/fetch';
import { appRouter } from './router';
import { createContext } from './trpc';

/**
 * The one handler of the process: subscriptions (one multiplexed stream per page, or one
 * stream per subscription for stock tRPC clients), queries and mutations. Kept on
 * `globalThis` for the reason given in `events.ts`: the shutdown in `instrumentation.ts`
 * imports this module into a bundle of its own, and a handler of its own would have no
 * streams to drain while the routes' streams kept `next start` from exiting.
 */
const holder = globalThis as typeof globalThis & { exampleHandler?: SSEFetchHandler };

export const handler: SSEFetchHandler = (holder.exampleHandler ??= createSSEFetchHandler({
  router: appRouter,
  endpoint: '/api/trpc',
  createContext,
}));
