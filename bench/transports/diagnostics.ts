/**
 * Connection failures a client library reported in this process (retried or not). trpc-sse's
 * client tells them through `onError`; a case that should have none but has some points at a
 * misbehaviour the other figures would hide (a retried stream or control request still delivers).
 */
let count = 0;
const samples = new Set<string>();

export function noteConnectionError(error: unknown): void {
  count++;
  if (samples.size < 5) samples.add((error instanceof Error ? error.message : String(error)).slice(0, 200));
}

export function connectionDiagnostics(): { connectionErrors: number; connectionErrorSamples: string[] } {
  return { connectionErrors: count, connectionErrorSamples: [...samples] };
}
