/**
 * The browser scenario's page (bundled by bundle.ts, run in Chromium): `window.benchRun` reads
 * `count` events of one stream and reports how fast they came, timed in the page: through
 * sseLink (trpc-sse, either mode) in tRPC's client, or a plain `EventSource` parsing each
 * event's JSON (columns.ts).
 */
import { createTRPCClient } from '@trpc/client';
import { createSSEClient, sseLink } from 'trpc-sse/client';
import { asTick } from '../procedures/events.js';
import type { PinnedRouter } from '../transports/routers/pinned.js';
import type { BrowserReader } from './columns.js';

export interface PageRun {
  received: number;
  outOfOrder: number;
  /** First receipt → last receipt, `performance.now()` in the page. */
  spanMs: number;
  error: string | null;
}

declare global {
  interface Window {
    benchRun(reader: BrowserReader, count: number, timeoutMs: number): Promise<PageRun>;
  }
}

/** Counts events, checks their order, and settles once `count` arrived (or on error / timeout). */
function tally(count: number, timeoutMs: number) {
  let received = 0;
  let outOfOrder = 0;
  let first = 0;
  let last = 0;
  let settle!: (error: string | null) => void;
  const done = new Promise<PageRun>((resolve) => {
    const timer = setTimeout(() => settle(`timed out after ${received}/${count} events`), timeoutMs);
    settle = (error) => {
      clearTimeout(timer);
      resolve({ received, outOfOrder, spanMs: last - first, error });
    };
  });
  const onValue = (value: unknown): boolean => {
    const tick = asTick(value);
    if (!tick) return false;
    const now = performance.now();
    if (received === 0) first = now;
    last = now;
    if (tick.seq !== received) outOfOrder++;
    if (++received === count) settle(null);
    return received === count;
  };
  return { done, onValue, fail: (error: unknown) => settle(String(error)) };
}

/** `url`: trpc-sse's distinct stream of `stream`, or the raw SSE server's `/stream`. */
function viaEventSource(url: string, count: number, timeoutMs: number): Promise<PageRun> {
  const t = tally(count, timeoutMs);
  const source = new EventSource(url);
  source.onmessage = (event: MessageEvent<string>) => {
    if (t.onValue(JSON.parse(event.data))) source.close();
  };
  // The server ends the stream after `count` events; EventSource would then reconnect.
  source.onerror = () => {
    source.close();
    t.fail('EventSource error');
  };
  return t.done.finally(() => source.close());
}

function viaSseLink(mode: 'multiplexed' | 'distinct', count: number, timeoutMs: number): Promise<PageRun> {
  const t = tally(count, timeoutMs);
  const sse = createSSEClient({ url: `${location.origin}/trpc`, mode });
  const trpc = createTRPCClient<PinnedRouter>({ links: [sseLink({ client: sse })] });
  const subscription = trpc.stream.subscribe(
    { count },
    {
      onData: (value) => void t.onValue(value),
      onError: (error) => t.fail(error),
      onComplete: () => t.fail('completed early'),
    },
  );
  return t.done.finally(() => {
    subscription.unsubscribe();
    sse.close();
  });
}

window.benchRun = (reader, count, timeoutMs) => {
  switch (reader) {
    case 'sselink-mux':
      return viaSseLink('multiplexed', count, timeoutMs);
    case 'sselink-distinct':
      return viaSseLink('distinct', count, timeoutMs);
    case 'eventsource-trpc':
      return viaEventSource(`/trpc/stream?input=${encodeURIComponent(JSON.stringify({ count }))}`, count, timeoutMs);
    case 'eventsource-raw':
      return viaEventSource(`/stream?count=${count}`, count, timeoutMs);
  }
};
