'use client';
import type { QueryClient } from '@tanstack/react-query';
import { QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, splitLink, type TRPCClient } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { createContext, useContext, useState, type ReactNode } from 'react';
import { createSSEClient, sseLink, type SSEClient } from 'trpc-sse/client';
import type { AppRouter } from '../server/router';
import { makeQueryClient } from './query-client';

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

let browserQueryClient: QueryClient | undefined;

function getQueryClient(): QueryClient {
  // On the server, a new client per render, so no data is shared between requests.
  if (typeof window === 'undefined') return makeQueryClient();
  // In the browser, one for the page's life: React may re-create the provider during a suspense.
  return (browserQueryClient ??= makeQueryClient());
}

function getUrl(): string {
  // Absolute in both places: the page's own origin in the browser; on the server (this
  // component is rendered there too) the app itself.
  const base = typeof window !== 'undefined' ? window.location.origin : `http://localhost:${process.env.PORT ?? 3000}`;
  return `${base}/api/trpc`;
}

const SSEClientContext = createContext<SSEClient | null>(null);

/** The shared SSE client: its `connectionState` and the wire `mode` it settled on. */
export function useSSEClient(): SSEClient {
  const sse = useContext(SSEClientContext);
  if (!sse) throw new Error('useSSEClient must be used inside <TRPCReactProvider>');
  return sse;
}

interface Clients {
  sse: SSEClient;
  trpc: TRPCClient<AppRouter>;
}

function createClients(): Clients {
  const url = getUrl();
  // Created during server rendering too, where it must (and does) open nothing: it connects
  // on the first subscription, and subscriptions start in effects, which run in the browser only.
  const sse = createSSEClient({ url });
  const trpc = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: sseLink({ client: sse }),
        false: httpBatchLink({ url }),
      }),
    ],
  });
  return { sse, trpc };
}

export function TRPCReactProvider({ children }: Readonly<{ children: ReactNode }>) {
  const queryClient = getQueryClient();
  const [clients] = useState(createClients);
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={clients.trpc} queryClient={queryClient}>
        <SSEClientContext.Provider value={clients.sse}>{children}</SSEClientContext.Provider>
      </TRPCProvider>
    </QueryClientProvider>
  );
}
