/**
 * One clock for every process of a run: `process.hrtime` reads CLOCK_MONOTONIC, which all
 * processes on one machine share, so a timestamp taken by the server can be subtracted from
 * one taken by the client.
 */
export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU time (user + system) since `since`, in µs. */
export function cpuSinceUs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return d.user + d.system;
}
