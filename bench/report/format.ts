/** Numbers for tables: about three significant digits, thousands separated. */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? '—' : '∞';
  const abs = Math.abs(value);
  if (Number.isInteger(value) && abs < 1000) return String(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1 || abs === 0) return value.toFixed(2);
  return value.toPrecision(2);
}

/** `a.b.c` inside a result object; undefined when absent or not a number. */
export function pick(value: unknown, path: string): number | undefined {
  let cur: unknown = value;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return typeof cur === 'number' ? cur : undefined;
}

/** trpc-sse mux ÷ peer, or a word when that is not a number. */
export function ratio(mux: number | undefined, peer: number | undefined): string {
  if (mux === undefined || peer === undefined || !Number.isFinite(mux) || !Number.isFinite(peer)) return '—';
  if (peer === 0) return mux === 0 ? 'both 0' : '∞';
  const r = mux / peer;
  if (r === 0) return '0';
  return r >= 1000 ? fmt(r) : r.toPrecision(r < 0.01 ? 2 : 3);
}
