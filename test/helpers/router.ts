import { initTRPC, tracked, TRPCError } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { EventEmitter, on } from 'node:events';
import superjson from 'superjson';
import { z } from 'zod';

export interface TestContext {
  user: string | null;
  connectionParams: Record<string, string> | null;
}

/** Probes a test can await: which procedures started and which ran their `finally`. */
export class Probe extends EventEmitter {
  started = 0;
  finished = 0;
  lastInputs: unknown[] = [];
  start(input: unknown): void {
    this.started++;
    this.lastInputs.push(input);
    this.emit('started', input);
  }
  finish(): void {
    this.finished++;
    this.emit('finished');
  }
  /** Resolves on the next `name` event. */
  next(name: 'started' | 'finished' | 'published'): Promise<unknown> {
    return new Promise((resolve) => this.once(name, resolve));
  }
}

/** A router exercising every shape the transport must carry. */
export function createTestRouter(opts: { transformer?: boolean } = {}) {
  const t = opts.transformer
    ? initTRPC.context<TestContext>().create({ transformer: superjson })
    : initTRPC.context<TestContext>().create();
  const probe = new Probe();
  const feed = new EventEmitter();
  feed.setMaxListeners(0);
  const journal: string[] = [];
  feed.on('append', (text: string) => {
    journal.push(text);
    feed.emit('appended', journal.length - 1);
  });
  const authed = t.procedure.use(({ ctx, next }) => {
    if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Sign in first' });
    return next({ ctx: { ...ctx, user: ctx.user } });
  });

  const router = t.router({
    hello: t.procedure
      .input(z.object({ name: z.string() }).optional())
      .query(({ input }) => `hello ${input?.name ?? 'world'}`),
    echo: t.procedure.input(z.object({ text: z.string() })).mutation(({ input }) => input.text),
    /** `count` tracked numbers from after `lastEventId`, one per `intervalMs`, then returns. */
    counter: t.procedure
      .input(
        z.object({
          count: z.number().int().max(100_000),
          intervalMs: z.number().default(0),
          lastEventId: z.string().nullish(),
        }),
      )
      .subscription(async function* ({ input, signal }) {
        probe.start(input);
        try {
          const from = input.lastEventId ? Number(input.lastEventId) + 1 : 0;
          for (let i = from; i < input.count; i++) {
            if (input.intervalMs > 0) await new Promise((r) => setTimeout(r, input.intervalMs));
            if (signal?.aborted) return;
            yield tracked(String(i), { n: i });
          }
        } finally {
          probe.finish();
        }
      }),
    /** Untracked values, then returns. */
    plain: t.procedure.input(z.number().int().max(1000)).subscription(async function* ({ input }) {
      for (let i = 0; i < input; i++) yield i;
    }),
    /** Waits forever (until the client leaves); counts start and finish. */
    idle: t.procedure.subscription(async function* ({ signal }) {
      probe.start(undefined);
      try {
        yield 'ready';
        await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
      } finally {
        probe.finish();
      }
    }),
    /** Live feed of `feed.emit('item', value)`, each tracked with the value's `id`. */
    live: t.procedure.input(z.object({ lastEventId: z.string().nullish() }).optional()).subscription(async function* ({
      input,
      signal,
    }) {
      probe.start(input);
      try {
        for await (const [item] of on(feed, 'item', signal ? { signal } : {})) {
          const value = item as { id: string; text: string };
          yield tracked(value.id, value);
        }
      } finally {
        probe.finish();
      }
    }),
    /** Live feed of `feed.emit('tick', value)`, untracked. */
    ticks: t.procedure.subscription(async function* ({ signal }) {
      probe.start(undefined);
      try {
        for await (const [value] of on(feed, 'tick', signal ? { signal } : {})) yield value as unknown;
      } finally {
        probe.finish();
      }
    }),
    /**
     * An append-only journal (`journal.push(text)` via `feed.emit('append', text)`): replays
     * every entry after `lastEventId`, then goes live — the shape resumable procedures have.
     */
    journal: t.procedure
      .input(z.object({ lastEventId: z.string().nullish() }).optional())
      .subscription(async function* ({ input, signal }) {
        probe.start(input);
        try {
          // Listen before reading history, so nothing appended in between is missed.
          const live = on(feed, 'appended', signal ? { signal } : {});
          let next = input?.lastEventId ? Number(input.lastEventId) + 1 : 0;
          while (next < journal.length) {
            yield tracked(String(next), journal[next]!);
            next++;
          }
          for await (const [index] of live) {
            if ((index as number) < next) continue;
            yield tracked(String(index), journal[index as number]!);
            next = (index as number) + 1;
          }
        } finally {
          probe.finish();
        }
      }),
    strict: t.procedure.input(z.object({ room: z.string() }).strict()).subscription(async function* ({ input }) {
      probe.start(input);
      yield tracked('1', input.room);
      yield tracked('2', input.room);
    }),
    voidInput: t.procedure.input(z.void()).subscription(async function* () {
      probe.start(undefined);
      yield tracked('1', 'v');
    }),
    primitive: t.procedure.input(z.string()).subscription(async function* ({ input }) {
      probe.start(input);
      yield tracked('1', input);
    }),
    observe: t.procedure.input(z.number().int().max(1000)).subscription(({ input }) =>
      observable<number>((emit) => {
        probe.start(input);
        for (let i = 0; i < input; i++) emit.next(i);
        emit.complete();
        return () => probe.finish();
      }),
    ),
    /** Throws a coded error after `after` values. */
    failing: t.procedure
      .input(z.object({ after: z.number(), code: z.enum(['FORBIDDEN', 'INTERNAL_SERVER_ERROR', 'CONFLICT']) }))
      .subscription(async function* ({ input }) {
        for (let i = 0; i < input.after; i++) yield i;
        throw new TRPCError({ code: input.code, message: `failed with ${input.code}` });
      }),
    secret: authed.subscription(async function* ({ ctx }) {
      yield { user: ctx.user, params: ctx.connectionParams };
    }),
    binary: t.procedure.input(z.number().int().max(1_000_000)).subscription(async function* ({ input }) {
      const bytes = new Uint8Array(input);
      for (let i = 0; i < input; i++) bytes[i] = (i * 7) % 256;
      yield { bytes, nested: [{ buf: Buffer.from([1, 2, 3]) }], when: new Date(0) };
    }),
  });
  return { router, probe, feed, t };
}

export type TestRouter = ReturnType<typeof createTestRouter>['router'];

/** createContext for tests: `authorization: Bearer <user>` header or `user` connection param. */
/** How often {@link testContext} ran in this process (createContext once per connection is tested). */
export const contextCalls = { count: 0 };

export function testContext(
  headers: { get(name: string): string | null },
  connectionParams: Record<string, string> | null,
): TestContext {
  contextCalls.count++;
  const auth = headers.get('authorization');
  const user = auth?.startsWith('Bearer ') ? auth.slice(7) : (connectionParams?.['user'] ?? null);
  return { user, connectionParams };
}
