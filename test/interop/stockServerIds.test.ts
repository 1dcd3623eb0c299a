/**
 * Our client against STOCK tRPC servers (the pinned release and the newest), resuming from
 * tracked ids that a request header cannot carry: characters outside Latin-1, `%`, `&`, `+`,
 * spaces at either end. The client sends such an id in the `lastEventId` query parameter, which
 * tRPC's server reads after the `Last-Event-ID` header.
 */
import { EventEmitter, on } from 'node:events';
import { createTRPCUntypedClient } from '@trpc/client';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createSSEClient, sseLink } from '../../src/client/index.js';
import { Collector } from '../helpers/collector.js';
import { serverKits, startStockStandalone, within, type ServerKit, type StockRouter } from './latestTrpc.js';

const IDS = ['évt-1', '日本-2', ' 50% & a+b=c ', 'Ã©-4', '😀 %E9 #5'];

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A stock router whose journal entries carry the ids above; an id it never wrote fails loudly. */
function journalRouter(kit: ServerKit) {
  const t = kit.initTRPC.create();
  const entries: Array<{ id: string; text: string }> = [];
  const appended = new EventEmitter();
  appended.setMaxListeners(0);
  const starts = new EventEmitter();
  const inputs: unknown[] = [];
  const router = t.router({
    journal: t.procedure
      .input(z.object({ lastEventId: z.string().nullish() }).optional())
      .subscription(async function* ({ input, signal }) {
        inputs.push(input);
        starts.emit('start');
        const live = on(appended, 'appended', signal ? { signal } : {});
        let next = 0;
        if (input?.lastEventId != null) {
          next = entries.findIndex((entry) => entry.id === input.lastEventId) + 1;
          if (next === 0)
            throw new kit.TRPCError({
              code: 'BAD_REQUEST',
              message: `Unknown id ${JSON.stringify(input.lastEventId)}`,
            });
        }
        for (;;) {
          while (next < entries.length) {
            const entry = entries[next++]!;
            yield kit.tracked(entry.id, entry.text);
          }
          await live.next();
        }
      }),
  });
  return {
    router,
    inputs,
    append(id: string, text: string) {
      entries.push({ id, text });
      appended.emit('appended');
    },
    nextStart: () => new Promise<void>((resolve) => starts.once('start', () => resolve())),
  };
}

describe.each(serverKits)('our client (distinct mode) against stock $name ($version)', (kit) => {
  test('resumes from ids a header cannot carry, across dropped connections: every event once', async () => {
    const app = journalRouter(kit);
    const stock = await startStockStandalone(kit, app.router as unknown as StockRouter);
    cleanup.push(() => stock.close());
    const client = createSSEClient({ url: stock.url, mode: 'distinct', retry: { minDelayMs: 5, maxDelayMs: 20 } });
    cleanup.push(() => client.close());
    const trpc = createTRPCUntypedClient({ links: [sseLink({ client })] });
    const c = new Collector();
    const first = app.nextStart();
    const subscription = trpc.subscription('journal', undefined, c.handlers());
    cleanup.push(() => subscription.unsubscribe());
    await within(first, 'the procedure');

    for (const [index, id] of IDS.entries()) {
      app.append(id, `entry ${index}`);
      await c.untilData(index + 1);
      const restart = app.nextStart();
      // Cut every connection mid-stream: the client reconnects with the id it last received.
      stock.server.closeAllConnections();
      await within(restart, `the procedure to start again after ${JSON.stringify(id)}`, 15_000);
    }
    app.append('last', 'entry last');
    await c.untilData(IDS.length + 1);

    expect(c.data).toEqual([
      ...IDS.map((id, index) => ({ id, data: `entry ${index}` })),
      { id: 'last', data: 'entry last' },
    ]);
    expect(app.inputs).toEqual([undefined, ...IDS.map((id) => ({ lastEventId: id }))]);
    expect(c.errors).toEqual([]);
  });
});
