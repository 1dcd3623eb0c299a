// @vitest-environment jsdom
/**
 * `@trpc/react-query` (`createTRPCReact`): `trpc.proc.useSubscription` over `sseLink`.
 */
import { QueryClientProvider } from '@tanstack/react-query';
import { createTRPCReact } from '@trpc/react-query';
import { describe } from 'vitest';
import type { TestRouter } from '../helpers/router.js';
import { defineSubscriptionSuite, useRecord, WIRE_MODES, type HookAdapter } from './harness.js';

const trpc = createTRPCReact<TestRouter>();

const adapter: HookAdapter = {
  Wrapper: ({ harness, children }) => (
    <trpc.Provider client={harness.client} queryClient={harness.queryClient}>
      <QueryClientProvider client={harness.queryClient}>{children}</QueryClientProvider>
    </trpc.Provider>
  ),
  Counter: ({ rec, input }) => {
    const sub = trpc.counter.useSubscription(input, rec.handlers());
    useRecord(rec, sub);
    return <div data-testid="status">{sub.status}</div>;
  },
  Live: ({ rec }) => {
    const sub = trpc.live.useSubscription(undefined, rec.handlers());
    useRecord(rec, sub);
    return <div data-testid="status">{sub.status}</div>;
  },
  Secret: ({ rec }) => {
    const sub = trpc.secret.useSubscription(undefined, rec.handlers());
    useRecord(rec, sub);
    return <div data-testid="status">{sub.status}</div>;
  },
  Failing: ({ rec, input }) => {
    const sub = trpc.failing.useSubscription(input, rec.handlers());
    useRecord(rec, sub);
    return <div data-testid="status">{sub.status}</div>;
  },
};

// Both wire modes: one stream per subscription (PROTOCOL §1), one stream for the client (§2).
describe.each(WIRE_MODES)('%s mode', (mode) => {
  defineSubscriptionSuite('@trpc/react-query', adapter, mode);
});
