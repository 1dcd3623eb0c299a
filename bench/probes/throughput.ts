/** Scenario 1, client side: one subscriber takes `count` events as fast as they come. */
import { cpuSinceUs, nowUs } from '../lib/clock.js';
import { asTick } from '../procedures/events.js';
import type { ClientFactory } from '../transports/types.js';

export async function throughput(factory: ClientFactory, count: number, timeoutMs: number) {
  const client = factory();
  const cpu0 = process.cpuUsage();
  const t0 = nowUs();
  let received = 0;
  let outOfOrder = 0;
  let expected = 0;
  let firstUs = 0;
  let lastUs = 0;
  const errors: string[] = [];
  await new Promise<void>((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      // Unsubscribe outside the delivering callback.
      setImmediate(() => {
        unsubscribe();
        resolve();
      });
    };
    const timer = setTimeout(finish, timeoutMs);
    const unsubscribe = client.subscribe(
      'stream',
      { count },
      {
        onStarted: () => undefined,
        onData(value) {
          const tick = asTick(value);
          if (!tick) return;
          const now = nowUs();
          if (received === 0) firstUs = now;
          lastUs = now;
          if (tick.seq !== expected) outOfOrder++;
          expected = tick.seq + 1;
          if (++received === count) finish();
        },
        onError(error) {
          errors.push(String(error));
          finish();
        },
        onComplete: () => (received < count ? finish() : undefined),
      },
    );
  });
  const clientCpuUs = cpuSinceUs(cpu0);
  client.close();
  return {
    received,
    outOfOrder,
    errors: errors.slice(0, 3),
    eventsPerSec: received > 1 ? (received - 1) / ((lastUs - firstUs) / 1e6) : NaN,
    wallMs: (lastUs - t0) / 1e3,
    clientCpuUsPerEvent: clientCpuUs / Math.max(1, received),
  };
}
