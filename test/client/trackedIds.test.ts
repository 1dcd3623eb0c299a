/**
 * Tracked ids beyond ASCII: every id the server can write must come back on a resume, in
 * both modes. `fetch` cannot put a character above U+00FF in a header, and header values lose
 * their edge whitespace; EventSource sends the id UTF-8 encoded, which Node hands over one
 * character per byte.
 */
import { createServer, request } from 'node:http';
import { EventEmitter, on } from 'node:events';
import { createTRPCClient } from '@trpc/client';
import { initTRPC, tracked, TRPCError } from '@trpc/server';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createSSEClient, sseLink } from '../../src/client/index.js';
import { fitsInHeader } from '../../src/client/distinct/distinctSubscription.js';
import { headerAsUtf8 } from '../../src/server/requestParams.js';
import { Collector } from '../helpers/collector.js';
import { scriptedFetch, sseResponse } from '../helpers/fakeFetch.js';
import { createSSEHandler } from '../../src/adapters/node.js';
import { launchChromium } from '../helpers/browser.js';
import { closeServer, listen, startNodeServer, type RunningServer } from '../helpers/servers.js';

/** Ids a `tracked()` value may carry (README, "Tracked ids"); each is resumed from once below. */
const IDS = ['évt-1', '日本-2', ' 50% & a+b=c ', 'plain-4', 'Ã©-5', '😀 %E9 #6'];

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A journal whose entries carry the ids above; resuming from an id the server never wrote fails loudly. */
function journalRouter() {
  const t = initTRPC.create();
  const entries: Array<{ id: string; text: string }> = [];
  const appended = new EventEmitter();
  appended.setMaxListeners(0);
  const inputs: unknown[] = [];
  const started = new EventEmitter();
  const router = t.router({
    journal: t.procedure
      .input(z.object({ lastEventId: z.string().nullish() }).optional())
      .subscription(async function* ({ input, signal }) {
        inputs.push(input);
        started.emit('started');
        const live = on(appended, 'appended', signal ? { signal } : {});
        let next = 0;
        if (input?.lastEventId != null) {
          const at = entries.findIndex((entry) => entry.id === input.lastEventId);
          if (at === -1)
            throw new TRPCError({ code: 'BAD_REQUEST', message: `Unknown id ${JSON.stringify(input.lastEventId)}` });
          next = at + 1;
        }
        while (next < entries.length) {
          const entry = entries[next++]!;
          yield tracked(entry.id, entry.text);
        }
        for await (const _ of live) {
          while (next < entries.length) {
            const entry = entries[next++]!;
            yield tracked(entry.id, entry.text);
          }
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
    /** Resolves once the procedure has been called `count` times in all. */
    untilStarted(count: number): Promise<void> {
      if (inputs.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          started.off('started', check);
          reject(new Error(`Timed out waiting for call ${count} of the procedure; inputs ${JSON.stringify(inputs)}`));
        }, 15_000);
        const check = (): void => {
          if (inputs.length < count) return;
          clearTimeout(timer);
          started.off('started', check);
          resolve();
        };
        started.on('started', check);
      });
    },
  };
}

describe.each(['distinct', 'multiplexed'] as const)('%s mode', (mode) => {
  test('resumes from ids with non-Latin-1 characters, %, &, + and edge spaces across dropped connections: every event once', async () => {
    const app = journalRouter();
    let server: RunningServer = await startNodeServer(app.router);
    const port = server.port;
    cleanup.push(() => server.close());
    const client = createSSEClient({ url: server.url, mode, retry: { minDelayMs: 5, maxDelayMs: 20 } });
    cleanup.push(() => client.close());
    const trpc = createTRPCClient<typeof app.router>({ links: [sseLink({ client })] });
    const c = new Collector<{ id: string; data: string }>();
    trpc.journal.subscribe(undefined, c.handlers());
    await app.untilStarted(1);

    for (const [index, id] of IDS.entries()) {
      app.append(id, `entry ${index}`);
      await c.untilData(index + 1);
      // The server goes away and comes back on the same port (its connections forgotten): the
      // subscription must start again from the id it last received.
      await server.close();
      server = await startNodeServer(app.router, {}, port);
      await app.untilStarted(index + 2);
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

describe('how the resume id travels (distinct mode)', () => {
  test('in Last-Event-ID when a header carries it unchanged, else in the lastEventId query parameter', async () => {
    const ids = ['0', 'a:b/c', 'évt-1', '日本-2', ' edge', 'edge ', 'tab\there'];
    let served = 0;
    const { fetch, calls } = scriptedFetch((_call, signal) => {
      const id = ids[served++];
      return id === undefined
        ? sseResponse(['event: connected\ndata: {}\n\n'], { hold: true, signal })
        : sseResponse(['event: connected\ndata: {}\n\n', `id: ${id}\ndata: 1\n\n`]);
    });
    const client = createSSEClient({
      url: 'http://x/trpc',
      fetch,
      mode: 'distinct',
      retry: { minDelayMs: 1, maxDelayMs: 2 },
    });
    cleanup.push(() => client.close());
    const c = new Collector();
    createTRPCClient<ReturnType<typeof journalRouter>['router']>({ links: [sseLink({ client })] }).journal.subscribe(
      undefined,
      c.handlers(),
    );
    await c.until(() => calls.length > ids.length, 'a request after every id');
    const sent = calls.slice(1).map((call) => ({
      header: call.headers['last-event-id'],
      query: new URL(call.url).searchParams.get('lastEventId'),
    }));
    expect(sent).toEqual(
      ids.map((id) => (['0', 'a:b/c'].includes(id) ? { header: id, query: null } : { header: undefined, query: id })),
    );
    expect(calls[0]!.headers['last-event-id']).toBeUndefined();
    expect(new URL(calls[0]!.url).searchParams.has('lastEventId')).toBe(false);
  });

  test('fitsInHeader: printable ASCII without edge spaces only', () => {
    for (const id of ['', '0', 'a b', '~!%&+', 'x'.repeat(1000)]) expect(fitsInHeader(id)).toBe(true);
    for (const id of ['é', 'ÿ', '日', ' a', 'a ', '\t', 'a\tb', '\u007f', '😀']) expect(fitsInHeader(id)).toBe(false);
  });
});

describe('Last-Event-ID as EventSource sends it (UTF-8 bytes)', () => {
  test('headerAsUtf8: Latin-1-decoded UTF-8 is decoded again; anything else is kept', () => {
    const latin1 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');
    for (const id of ['évt-1', '日本-2', '😀 %E9 #6', 'Ã©-5']) expect(headerAsUtf8(latin1(id))).toBe(id);
    // Plain ASCII, bytes that are not UTF-8 (a Latin-1 "é", a cut sequence), a value a runtime already decoded.
    for (const value of ['abc', '', 'é', 'caf\u00e9!', '\u00e6\u0097', '日本']) expect(headerAsUtf8(value)).toBe(value);
  });

  /** GETs the distinct stream with raw header bytes; resolves with the first tracked id sent back. */
  function getWithHeaderBytes(url: string, headerBytes: Buffer): Promise<string> {
    return new Promise((resolve, reject) => {
      // Node writes a header string one byte per character: this sends exactly `headerBytes`.
      const req = request(
        url,
        { headers: { accept: 'text/event-stream', 'last-event-id': headerBytes.toString('latin1') } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            const match = /^id: (.*)$/m.exec(text);
            if (match) {
              res.destroy();
              resolve(match[1]!);
            }
          });
          res.on('end', () => reject(new Error(`no tracked event in ${JSON.stringify(text)}`)));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  test('a UTF-8 encoded id is read back as the id the server wrote; Latin-1 bytes that are not UTF-8 stay as they are', async () => {
    // Not the ids with edge spaces: header values lose them on the way (EventSource cannot
    // resume from those; our client sends them in the query).
    const ids = ['évt-1', '日本-2', '50% & a+b=c', 'Ã©-5', '😀 %E9 #6'];
    const app = journalRouter();
    for (const [index, id] of [...ids, 'é', 'next'].entries()) app.append(id, `entry ${index}`);
    const server = await startNodeServer(app.router);
    cleanup.push(() => server.close());
    const url = `${server.url}/journal`;
    for (const [index, id] of ids.entries()) {
      expect(await getWithHeaderBytes(url, Buffer.from(id, 'utf8'))).toBe([...ids, 'é'][index + 1]);
    }
    // 0xE9 alone is not UTF-8: it is the Latin-1 "é" a client may send as a ByteString.
    expect(await getWithHeaderBytes(url, Buffer.from([0xe9]))).toBe('next');
    expect(app.inputs.slice(-1)).toEqual([{ lastEventId: 'é' }]);
  });
});

describe('a real EventSource (Chromium)', () => {
  test('resumes from non-ASCII ids: it sends them UTF-8 encoded, the server reads them back', async () => {
    // Not the ids with edge spaces: header values lose them (EventSource cannot resume from those).
    const ids = ['évt-1', '日本-2', '50% & a+b=c', '😀 #4'];
    const app = journalRouter();
    const handler = createSSEHandler({ router: app.router, basePath: '/trpc' });
    const server = createServer((req, res) => {
      if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(
          '<!doctype html><script>window.received = [];' +
            "new EventSource('/trpc/journal').onmessage = (e) => window.received.push(e.lastEventId);</script>",
        );
        return;
      }
      void handler(req, res);
    });
    const port = await listen(server);
    cleanup.push(async () => {
      handler.core.close();
      await closeServer(server);
    });
    const browser = await launchChromium();
    cleanup.push(() => browser.close());
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await app.untilStarted(1);

    for (const [index, id] of ids.entries()) {
      app.append(id, `entry ${index}`);
      await page.waitForFunction(
        (count) => (window as unknown as { received: string[] }).received.length >= count,
        index + 1,
        { timeout: 15_000 },
      );
      // The stream ends without `return`: EventSource reconnects by itself, sending Last-Event-ID.
      handler.core.closeAllStreams();
      await app.untilStarted(index + 2);
    }
    const received = await page.evaluate(() => (window as unknown as { received: string[] }).received);
    expect(received).toEqual(ids);
    expect(app.inputs).toEqual([undefined, ...ids.map((id) => ({ lastEventId: id }))]);
  });
});
