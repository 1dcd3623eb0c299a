import type { TRPCClientError } from '@trpc/client';
import type { TRPCDefaultErrorShape } from '@trpc/server';

/**
 * A client error as the test routers produce it. None of them sets an `errorFormatter`, so
 * `data` has tRPC's default shape (`code`, `httpStatus`, `path`); typing it so lets a test read
 * `error.data?.code` as a checked value, where `TRPCClientError<AnyTRPCRouter>` gives `any`.
 */
export type TestClientError = TRPCClientError<{ errorShape: TRPCDefaultErrorShape; transformer: boolean }>;
