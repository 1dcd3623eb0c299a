/**
 * Shutdown, as the adapters' entries export it. It lives in the core (`src/server/shutdown.ts`)
 * because it needs no runtime module: one helper serves `node:http`, Express and fetch
 * runtimes (Next.js, Hono, Bun, Deno) alike.
 */
export * from '../server/shutdown.js';
