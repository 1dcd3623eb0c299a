// @vitest-environment jsdom
/**
 * `@trpc/tanstack-react-query` (`createTRPCContext` + `useSubscription(trpc.proc.subscriptionOptions(...))`)
 * over `sseLink`.
 */
import { QueryClientProvider } from '@tanstack/react-query';
import { createTRPCContext, useSubscription } from '@trpc/tanstack-react-query';
import { describe } from 'vitest';
import type { TestRouter } from '../helpers/router.js';
import { defineSubscriptionSuite, useRecord, WIRE_MODES, type HookAdapter } from './harness.js';

const { TRPCProvider, useTRPC } = createTRPCContext<TestRouter>();

const adapter: HookAdapter = {
  Wrapper: ({ harness, children }) => (
    <QueryClientProvider client={harness.queryClient}>
      <TRPCProvider trpcClient={harness.client} queryClient={harness.queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  ),
  Counter: ({ rec, input }) => {
    const trpc = useTRPC();
    const sub = useSubscription(trpc.counter.subscriptionOptions(input, rec.handlers()));
    useRecord(rec, sub);
    return <div data-testid="status">{sub.status}</div>;
  },
  Live: ({ rec }) => {
    const trpc = useTRPC();
    const sub = useSubscription(trpc.live.subscriptionOptions(undefined, rec.handlers()));
    useRecord(rec, sub);
    return <div data-testid="status">{sub.status}</div>;
  },
  Secret: ({ rec }) => {
    const trpc = useTRPC();
    const sub = useSubscription(trpc.secret.subscriptionOptions(undefined, rec.handlers()));
    useRecord(rec, sub);
    return <div data-testid="status">{sub.status}</div>;
  },
  Failing: ({ rec, input }) => {
    const trpc = useTRPC();
    const sub = useSubscription(trpc.failing.subscriptionOptions(input, rec.handlers()));
    useRecord(rec, sub);
    return <div data-testid="status">{sub.status}</div>;
  },
};

// Both wire modes: one stream per subscription (PROTOCOL §1), one stream for the client (§2).
describe.each(WIRE_MODES)('%s mode', (mode) => {
  defineSubscriptionSuite('@trpc/tanstack-react-query', adapter, mode);
});
