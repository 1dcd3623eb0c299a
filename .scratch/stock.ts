import { initTRPC, TRPCError, tracked } from 'trpc-latest/server';
import { createHTTPServer } from 'trpc-latest/standalone';
import { z } from 'zod';
const t = initTRPC.context<{ user: string | null }>().create();
const router = t.router({
  q: t.procedure.query(() => 'hi'),
  counter: t.procedure.input(z.object({ count: z.number(), lastEventId: z.string().nullish() })).subscription(async function* ({ input }) {
    for (let i = 0; i < input.count; i++) yield tracked(String(i), { n: i });
  }),
  secret: t.procedure.subscription(async function* ({ ctx }) { yield ctx.user; }),
});
const server = createHTTPServer({ router, basePath: '/trpc/', createContext: ({ req, info }) => {
  if (info.type === 'subscription' && req.url?.includes('secret') && !req.headers.authorization) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'nope' });
  return { user: 'x' };
} });
server.listen(0, '127.0.0.1', async () => {
  const port = (server.address() as any).port;
  const base = `http://127.0.0.1:${port}/trpc`;
  for (const p of ['counter?input=%7Bbad', 'counter?batch=1&input=%7B%7D', 'counter?input=' + encodeURIComponent(JSON.stringify({ count: 2 })), 'nope', 'counter?input=' + encodeURIComponent('{"count":"x"}'), 'secret', 'q']) {
    const r = await fetch(`${base}/${p}`, { headers: { accept: 'text/event-stream' } });
    console.log(p, r.status, r.headers.get('content-type'), JSON.stringify((await r.text()).slice(0, 400)));
  }
  server.close(); process.exit(0);
});
