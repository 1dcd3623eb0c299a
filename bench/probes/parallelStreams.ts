/**
 * The HTTP/2 scenario's throughput, client side: `n` `stream` subscriptions on ONE client (one
 * connection), each taking `perStream` events as fast as they come, all at once. Reports the
 * total rate (every event ÷ first receipt → last receipt over all streams) and this process's
 * CPU per event.
 */
import { cpuSinceUs, nowUs, sleep } from '../lib/clock.js';
import { asTick } from '../procedures/events.js';
import type { ClientFactory } from '../transports/types.js';

export async function parallelStreams(factory: ClientFactory, n: number, perStream: number, timeoutMs: number) {
  const client = factory();
  const cpu0 = process.cpuUsage();
  const t0 = nowUs();
  const expected = n * perStream;
  let received = 0;
  let outOfOrder = 0;
  let firstUs = 0;
  let lastUs = 0;
  let finished = 0;
  const errors: string[] = [];
  const unsubscribes: Array<() => void> = [];
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const streamDone = (): void => {
      if (++finished === n) {
        clearTimeout(timer);
        resolve();
      }
    };
    for (let i = 0; i < n; i++) {
      let next = 0;
      let done = false;
      const end = (): void => {
        if (done) return;
        done = true;
        streamDone();
      };
      unsubscribes.push(
        client.subscribe(
          'stream',
          { count: perStream },
          {
            onStarted: () => undefined,
            onData(value) {
              const tick = asTick(value);
              if (!tick) return;
              const now = nowUs();
              if (received === 0) firstUs = now;
              lastUs = now;
              if (tick.seq !== next) outOfOrder++;
              next = tick.seq + 1;
              received++;
              if (next === perStream) end();
            },
            onError(error) {
              if (errors.length < 3) errors.push(String(error));
              end();
            },
            onComplete: end,
          },
        ),
      );
    }
  });
  const clientCpuUs = cpuSinceUs(cpu0);
  const wallMs = (lastUs - t0) / 1e3;
  // Unsubscribe outside the delivering callbacks, then let the closes reach the server.
  await sleep(0);
  for (const unsubscribe of unsubscribes) unsubscribe();
  client.close();
  return {
    streams: n,
    expected,
    received,
    outOfOrder,
    errors,
    eventsPerSec: received > 1 ? (received - 1) / ((lastUs - firstUs) / 1e6) : NaN,
    wallMs,
    clientCpuUsPerEvent: clientCpuUs / Math.max(1, received),
  };
}
