import { progressHandler } from '../../../../server/progressHandler';

// The progress stream, `GET /api/stream/progress`: one event stream per run of the job. A
// dynamic segment, as tRPC's own route is, because the library serves a procedure at
// `{endpoint}/{procedure}` (and a multiplexed client's stream at `{endpoint}/trpc-sse`, with
// its control requests as POSTs), never at the endpoint itself. No segment config: a handler
// that reads its request is never prerendered, and it runs on the default Node.js runtime,
// whose streams `instrumentation.ts` drains on shutdown.
export { progressHandler as GET, progressHandler as POST };
