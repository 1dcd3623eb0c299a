/**
 * A value a subscription yielded is not kept once it is written: an idle subscription whose
 * last value was large must not pin it until its next value (tRPC's own server frees them).
 * Only the written text may stay (the multiplexed replay buffer, bounded by its own budget).
 */
import { initTRPC, tracked } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, test } from 'vitest';
import { createSSECore, type SSECore } from '../../src/server/core.js';
import type { RequestHooks } from '../../src/server/options.js';
import type { ClientGoneListener, SSERequest, SSEResponseSink } from '../../src/server/request.js';
import { MUX_PATH } from '../../src/protocol.js';

// `gc()` without restarting the worker with --expose-gc: the flag, then a fresh context, which gets it.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A large object made for one test, known only through a WeakRef. */
class Payload {
  readonly rows = Array.from({ length: 20_000 }, (_, i) => ({ i, label: `row ${i}` }));
}

function payloadRouter(refs: Array<WeakRef<Payload>>) {
  const t = initTRPC.create();
  const big = (): Payload => {
    const value = new Payload();
    refs.push(new WeakRef(value));
    return value;
  };
  const idle = (signal: AbortSignal | undefined): Promise<void> =>
    new Promise((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
  return t.router({
    generator: t.procedure.subscription(async function* ({ signal }) {
      yield big();
      await idle(signal);
    }),
    trackedGenerator: t.procedure.subscription(async function* ({ signal }) {
      yield tracked('1', big());
      await idle(signal);
    }),
    observable: t.procedure.subscription(() =>
      observable<Payload>((emit) => {
        emit.next(big());
        return () => undefined;
      }),
    ),
  });
}

class FakeRequest implements SSERequest {
  readonly method = 'GET';
  readonly url = null;
  readonly signal = new AbortController().signal;
  readonly headers: Headers;
  readonly searchParams: URLSearchParams;
  readonly path: string;

  constructor(path: string, query: Record<string, string> = {}) {
    this.path = path;
    this.searchParams = new URLSearchParams(query);
    this.headers = new Headers({ accept: 'text/event-stream' });
  }

  onGone(_listener: ClientGoneListener | null): boolean {
    return true;
  }

  readBody(): Promise<string> {
    return Promise.resolve('');
  }
}

/** Keeps only the text it was given, and says when some text has arrived. */
class TextSink implements SSEResponseSink {
  text = '';
  readonly bufferedBytes = 0;
  #waiters: Array<{ needle: string; resolve: () => void }> = [];

  start(): void {
    // Status and headers play no part in what these tests check.
  }

  write(chunk: string): boolean {
    this.text += chunk;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!this.text.includes(waiter.needle)) return true;
      waiter.resolve();
      return false;
    });
    return true;
  }

  drained(): Promise<void> {
    return Promise.resolve();
  }

  end(): void {
    // Nothing to release: the text stays for the test to read.
  }

  /** Resolves once `needle` has been written. */
  written(needle: string): Promise<void> {
    if (this.text.includes(needle)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ needle, resolve }));
  }
}

const hooks: RequestHooks = { createContext: () => Promise.resolve({}), onError: () => undefined, http2: false };

/** Collects until `ref` is empty, a bounded number of times (WeakRefs hold their target for the rest of the job). */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let round = 0; round < 10 && ref.deref() !== undefined; round++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}

let core: SSECore | undefined;
afterEach(() => {
  core?.close();
  core = undefined;
});

describe.each(['generator', 'trackedGenerator', 'observable'] as const)('%s', (procedure) => {
  test('distinct mode: the value is unreachable once written, while the subscription idles', async () => {
    const refs: Array<WeakRef<Payload>> = [];
    core = createSSECore({ router: payloadRouter(refs), heartbeatMs: 0, reconnectAfterInactivityMs: 0 });
    const sink = new TextSink();
    void core.serveStream(new FakeRequest(procedure), sink, hooks);
    await sink.written('"label":"row 19999"');
    expect(refs).toHaveLength(1);
    expect(core.openStreams).toBe(1);
    expect(await collected(refs[0]!)).toBe(true);
    // Still open: what was freed was the value, not the subscription.
    expect(core.openStreams).toBe(1);
  });

  test('multiplexed mode: the value is unreachable once written, while the subscription idles', async () => {
    const refs: Array<WeakRef<Payload>> = [];
    core = createSSECore({ router: payloadRouter(refs), heartbeatMs: 0, reconnectAfterInactivityMs: 0 });
    const sink = new TextSink();
    const subscribe = JSON.stringify([{ op: 'subscribe', id: 'a', path: procedure }]);
    void core.serveStream(new FakeRequest(MUX_PATH, { subscribe }), sink, hooks);
    await sink.written('"label":"row 19999"');
    expect(refs).toHaveLength(1);
    expect(await collected(refs[0]!)).toBe(true);
    expect(core.connections).toBe(1);
  });
});
