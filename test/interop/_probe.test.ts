import { test } from 'vitest';
import { createStockRouter, serverKits, startStockFetch, startStockStandalone } from './latestTrpc.js';
test('probe', async () => {
  for (const kit of serverKits) for (const start of [startStockStandalone, startStockFetch]) {
    const stock = await start(kit, createStockRouter(kit).router);
    for (const u of [stock.url, stock.url + '/']) {
      for (const method of ['GET', 'POST']) {
      const r = await fetch(u, { method, headers: { accept: 'text/event-stream;trpc-sse-binary=base64' }, ...(method==='POST'?{body:'{}'}:{}) });
      console.log(kit.version, start.name, method, u.slice(-6), r.status, r.headers.get('content-type'), (await r.text()).slice(0, 200));
      }
    }
    await stock.close();
  }
});
