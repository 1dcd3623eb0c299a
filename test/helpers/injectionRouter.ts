import { initTRPC, tracked } from '@trpc/server';

/** A procedure whose second tracked id carries a line break: a field-injection attempt. */
export function createInjectionRouter() {
  const t = initTRPC.create();
  return {
    router: t.router({
      evil: t.procedure.subscription(async function* () {
        yield tracked('ok', 1);
        yield tracked('2\nevent: pwned', 2);
      }),
    }),
  };
}
