import { handler } from '../../../../server/handler';

// tRPC's route: every `/api/trpc/*` request (queries, mutations, subscription streams and the
// multiplexed stream at `/api/trpc/trpc-sse`) reaches the one handler.
export { handler as GET, handler as POST };
