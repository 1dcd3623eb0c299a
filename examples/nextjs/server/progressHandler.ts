import { createSSEFetchHandler, type SSEFetchHandler } from 'trpc-sse/fetch';
import { progressRouter } from './progress';
import { createContext } from './trpc';

/**
 * The handler of `app/api/stream/[trpc]/route.ts`: the progress router's subscription and
 * nothing else (no queries or mutations there). On `globalThis` for the reason given in
 * `handler.ts`: the shutdown in `instrumentation.ts` drains this one's streams too.
 */
const holder = globalThis as typeof globalThis & { exampleProgressHandler?: SSEFetchHandler };

export const progressHandler: SSEFetchHandler = (holder.exampleProgressHandler ??= createSSEFetchHandler({
  router: progressRouter,
  endpoint: '/api/stream',
  createContext,
  queriesAndMutations: false,
}));
