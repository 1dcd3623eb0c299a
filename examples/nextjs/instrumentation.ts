/**
 * Runs once when the Next.js server starts. On SIGTERM, `next start` closes its listener and
 * waits for every request in flight to finish; an event stream never finishes by itself, so
 * without a drain the process would wait as long as a page is open. The drain asks each
 * client to move (they reconnect to the next server, resuming where they were), then ends
 * the streams that remain; Next.js then exits by itself.
 */
export async function register(): Promise<void> {
  // Signals reach the Node.js server only (not the edge runtime).
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const [{ installGracefulShutdown }, { handler }, { progressHandler }] = await Promise.all([
    import('trpc-sse/fetch'),
    import('./server/handler'),
    import('./server/progressHandler'),
  ]);
  installGracefulShutdown({ cores: [handler, progressHandler], exit: false });
}
