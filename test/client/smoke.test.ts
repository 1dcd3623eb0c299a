import { createTRPCClient } from '@trpc/client';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { sseLink } from '../../src/client/index.js';
import { Collector } from '../helpers/collector.js';
import { createTestRouter, type TestRouter } from '../helpers/router.js';
import { startNodeServer, type RunningServer } from '../helpers/servers.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startNodeServer(createTestRouter().router);
});
afterAll(() => server.close());

test('smoke', async () => {
  const client = createTRPCClient<TestRouter>({ links: [sseLink({ url: server.url })] });
  const c = new Collector<{ id: string; data: { n: number } }>();
  const sub = client.counter.subscribe({ count: 5 }, c.handlers());
  await c.until(() => c.completed, 'complete');
  expect(c.data.map((d) => d.id)).toEqual(['0', '1', '2', '3', '4']);
  sub.unsubscribe();
});
