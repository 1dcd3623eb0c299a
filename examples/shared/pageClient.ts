/**
 * The browser side every example page shares: one SSE client (one connection for every
 * subscription on the page), the tRPC client over it, and sign-in with a bearer token that
 * both links send as a real `Authorization` header.
 */
import { createTRPCClient, httpBatchLink, splitLink, type TRPCClient } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { createSSEClient, sseLink, type SSEClient } from 'trpc-sse/client';
import type { Session } from './sessions.js';
import type { sharedRouter } from './sharedRouter.js';

export type SharedRouter = typeof sharedRouter;

/** What this page's client saw happen to its connection (the connection panel shows it). */
export class PageCounters extends EventTarget {
  /** Streams this page opened: the first, then one per reconnect. */
  streamsOpened = 0;
  /** Subscriptions the server could not resume (its log had lost the position): refetched. */
  resets = 0;

  opened(): void {
    this.streamsOpened++;
    this.dispatchEvent(new Event('change'));
  }

  reset(): void {
    this.resets++;
    this.dispatchEvent(new Event('change'));
  }
}

export interface PageClient {
  sse: SSEClient;
  counters: PageCounters;
  /** The signed-in user and token number, as the last sign-in or refresh returned them. */
  session(): Session;
  /** A new token, used by the next request and the next connection (not the open one). */
  refreshToken(): Promise<Session>;
}

/** The user a page signs in as: `?user=` in its address, else `ada`. */
function pageUser(): string {
  return new URLSearchParams(location.search).get('user')?.trim() || 'ada';
}

/** The page's clients; `trpc` is typed by the page's router (the app's, which includes the shared one). */
export async function createPageClient<TRouter extends AnyTRPCRouter>(): Promise<
  PageClient & { trpc: TRPCClient<TRouter> }
> {
  const url = `${location.origin}/trpc`;
  let token: string | null = null;
  // Read again for every request and on every (re)connection: a refreshed token is picked up.
  const headers = (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});
  const counters = new PageCounters();
  const sse = createSSEClient({
    url,
    headers,
    retry: { minDelayMs: 300, maxDelayMs: 3_000 },
    onOpen: () => counters.opened(),
    onReset: () => counters.reset(),
  });
  // Built for the procedures every page shares; the page's router adds its own to the same links.
  const shared = createTRPCClient<SharedRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: sseLink({ client: sse }),
        false: httpBatchLink({ url, headers }),
      }),
    ],
  });
  const trpc = shared as unknown as TRPCClient<TRouter>;
  let signedIn = await shared.auth.signIn.mutate({ user: pageUser() });
  token = signedIn.token;
  return {
    sse,
    trpc,
    counters,
    session: () => signedIn.session,
    async refreshToken() {
      signedIn = await shared.auth.refresh.mutate();
      token = signedIn.token;
      return signedIn.session;
    },
  };
}
