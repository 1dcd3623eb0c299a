import { handler } from '../../../server/handler';

// Read on every request, never prerendered.
export const dynamic = 'force-dynamic';

/** What the server holds right now: event streams, and multiplexed connections (with or without a stream). */
export function GET(): Response {
  const { openStreams, connections } = handler.core;
  return Response.json({ openStreams, connections }, { headers: { 'cache-control': 'no-store' } });
}
