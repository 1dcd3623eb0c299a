import { handler } from '../../../server/handler';
import { progressHandler } from '../../../server/progressHandler';

// Read on every request, never prerendered.
export const dynamic = 'force-dynamic';

/**
 * What the server holds right now: the tRPC route's event streams and multiplexed connections
 * (with or without a stream), and the progress route's streams.
 */
export function GET(): Response {
  const { openStreams, connections } = handler.core;
  return Response.json(
    { openStreams, connections, progressStreams: progressHandler.core.openStreams },
    { headers: { 'cache-control': 'no-store' } },
  );
}
