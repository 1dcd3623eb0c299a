import { QueryClient } from '@tanstack/react-query';

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      // With server rendering, data is fresh for a while: no refetch right after hydration.
      queries: { staleTime: 30_000 },
    },
  });
}
