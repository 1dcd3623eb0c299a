/**
 * An app that uses the installed package by its name, as a user's code would. The package
 * tests copy it into scratch projects (CommonJS and ESM, several TypeScript `module`
 * settings), compile it with tsc and run it: it serves a router with trpc-sse's node handler
 * on loopback, subscribes through `sseLink` in both wire modes and through the distinct-only
 * entry (`trpc-sse/client/distinct`), and prints what arrived as
 * JSON. Tracked events arrive as `{ id, data }` only if the app and the package share one
 * `@trpc/server` (tRPC recognises its `tracked()` envelopes by a module-local symbol).
 */
import { createTRPCClient } from '@trpc/client';
import { initTRPC, tracked } from '@trpc/server';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSSEClient, sseLink } from 'trpc-sse/client';
import * as distinctEntry from 'trpc-sse/client/distinct';
import { createSSEMiddleware } from 'trpc-sse/express';
import { createSSEFetchHandler } from 'trpc-sse/fetch';
import { createSSEHandler } from 'trpc-sse/node';
import { createRedisEventLog } from 'trpc-sse/redis';
import { createMemoryEventLog, createReset, isReset } from 'trpc-sse/server';

// A hang must end the process, not the test run; the test reports the exit code.
setTimeout(() => {
  process.stderr.write('the app timed out\n');
  process.exit(2);
}, 20_000).unref();

const t = initTRPC.create();
const log = createMemoryEventLog();

const router = t.router({
  /** Tracked by the app's own `tracked()`. */
  ticks: t.procedure.subscription(async function* () {
    yield tracked('1', { n: 1 });
    yield tracked('2', { n: 2 });
  }),
  /** Tracked by the package's event log (its own import of `tracked()`). */
  feed: t.procedure
    .input((raw: unknown) => raw as { lastEventId?: string | null })
    .subscription(({ input, signal }) =>
      log.subscribe<{ n: number }>('feed', { lastEventId: input.lastEventId ?? null, signal }),
    ),
});

interface Received {
  ticks: Array<{ id: string; data: { n: number } }>;
  feed: Array<{ id: string; data: { n: number } }>;
}

/** The first `count` values of a subscription, then unsubscribes. */
interface Handlers<T> {
  onData(value: T): void;
  onError(cause: unknown): void;
}

function take<T>(count: number, subscribe: (handlers: Handlers<T>) => { unsubscribe(): void }): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const values: T[] = [];
    const subscription = subscribe({
      onData(value) {
        values.push(value);
        if (values.length === count) {
          subscription.unsubscribe();
          resolve(values);
        }
      },
      onError: reject,
    });
  });
}

async function main(): Promise<void> {
  const entries = {
    createSSEClient,
    distinctCreateSSEClient: distinctEntry.createSSEClient,
    distinctSseLink: distinctEntry.sseLink,
    sseLink,
    createSSEMiddleware,
    createSSEFetchHandler,
    createSSEHandler,
    createRedisEventLog,
    createMemoryEventLog,
  };
  const notFunctions = Object.entries(entries)
    .filter(([, value]) => typeof value !== 'function')
    .map(([name]) => name);

  const first = await log.publish('feed', { n: 1 });
  await log.publish('feed', { n: 2 });
  await log.publish('feed', { n: 3 });

  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- the handler's promise never rejects: it answers a failed request instead
  const server = createServer(createSSEHandler({ router, basePath: '/trpc' }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/trpc`;

  const modes: Record<string, Received & { mode: string }> = {};
  for (const mode of ['multiplexed', 'distinct'] as const) {
    const client = createSSEClient({ url, mode });
    const trpc = createTRPCClient<typeof router>({ links: [sseLink({ client })] });
    const ticks = await take<Received['ticks'][number]>(2, (handlers) => trpc.ticks.subscribe(undefined, handlers));
    const feed = await take<Received['feed'][number]>(2, (handlers) =>
      trpc.feed.subscribe({ lastEventId: first }, handlers),
    );
    modes[mode] = { mode: client.mode, ticks, feed };
    client.close();
  }
  {
    // The distinct-only entry: its own client and link, no multiplexed code.
    const client = distinctEntry.createSSEClient({ url });
    const trpc = createTRPCClient<typeof router>({ links: [distinctEntry.sseLink({ client })] });
    const ticks = await take<Received['ticks'][number]>(2, (handlers) => trpc.ticks.subscribe(undefined, handlers));
    const feed = await take<Received['feed'][number]>(2, (handlers) =>
      trpc.feed.subscribe({ lastEventId: first }, handlers),
    );
    modes['distinct entry'] = { mode: client.mode, ticks, feed };
    client.close();
  }

  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await log.close();
  process.stdout.write(JSON.stringify({ notFunctions, resetIsReset: isReset(createReset('trimmed', null)), modes }));
}

main().catch((cause: unknown) => {
  process.stderr.write(`${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}\n`);
  process.exit(1);
});
