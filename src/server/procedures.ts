import type { AnyTRPCProcedure, AnyTRPCRouter } from '@trpc/server';

/**
 * The procedure at `path`, loading `lazy()` sub-routers on the way, or `null`.
 *
 * tRPC keeps this lookup internal; the router's `_def` (`procedures`, `lazy`) is the
 * stable shape every v11 release shares, so it is read here rather than importing
 * `unstable-core-do-not-import`.
 */
export async function findProcedure(router: AnyTRPCRouter, path: string): Promise<AnyTRPCProcedure | null> {
  const def = router._def as {
    procedures: Record<string, AnyTRPCProcedure | undefined>;
    lazy?: Record<string, { load(): Promise<void> } | undefined>;
  };
  let procedure = def.procedures[path];
  // Each load registers the sub-router's procedures; a bounded number of hops (one per
  // path segment) keeps a broken lazy loader from spinning.
  for (let hops = 0; !procedure && hops <= path.split('.').length; hops++) {
    const lazyKey = Object.keys(def.lazy ?? {}).find((key) => path === key || path.startsWith(key + '.'));
    const lazy = lazyKey === undefined ? undefined : def.lazy?.[lazyKey];
    if (!lazy) return null;
    await lazy.load();
    procedure = def.procedures[path];
  }
  return procedure ?? null;
}
