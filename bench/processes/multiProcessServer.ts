/**
 * One trpc-sse server process of a multi-process deployment: `multiProcessServer.ts <backend>`,
 * the backend's address in BENCH_BACKEND_URL. Multiplexed and distinct, on the backend's event
 * log and connection directory (transports/sharedLog.ts); the `onTick` feed is read from that
 * log, so an event published by any process reaches the subscribers of every process. Driven
 * over IPC; CPU is measured here, in the process itself.
 */
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createSSEHandler } from 'trpc-sse/node';
import type { BackendId } from '../lib/backends.js';
import { nowUs, sleep } from '../lib/clock.js';
import { num, serveIpc } from '../lib/ipc.js';
import { summarizeUs } from '../lib/stats.js';
import { Counter } from '../procedures/counter.js';
import { LogTicks } from '../procedures/logTicks.js';
import { listen } from '../transports/listen.js';
import { createPinnedRouter } from '../transports/routers/pinned.js';
import { createSharedLog } from '../transports/sharedLog.js';
import { TimedDirectory } from '../transports/timedDirectory.js';

const backend = process.argv[2] as BackendId;
const shared = await createSharedLog(backend, process.env['BENCH_BACKEND_URL'] ?? '');
const ticks = new LogTicks(shared.log);
const directory = shared.directory ? new TimedDirectory(shared.directory) : undefined;
const handler = createSSEHandler({
  router: createPinnedRouter({ ticks, counter: new Counter({ t0: Date.now(), periodMs: 1_000, generation: 1 }) }),
  basePath: '/trpc',
  ...(directory ? { connectionDirectory: directory } : {}),
});
// eslint-disable-next-line @typescript-eslint/no-misused-promises -- the handler's promise never rejects: it answers a failed request instead
const port = await listen(createServer(handler), Number(process.env['BENCH_PORT'] ?? 0));

/** Failed publishes, counted with a few messages (a backend that refuses shows up in the report, not as a crash). */
class PublishFailures {
  count = 0;
  readonly samples = new Set<string>();
  note(error: unknown): void {
    this.count++;
    if (this.samples.size < 3) this.samples.add((error instanceof Error ? error.message : String(error)).slice(0, 200));
  }
}

/** Waits until `atUs` on the shared clock, so both processes start a phase together. */
async function until(atUs: number): Promise<void> {
  const waitMs = (atUs - nowUs()) / 1e3;
  if (waitMs > 0) await sleep(waitMs);
}

/**
 * This process's share of the fan-out: ticks `offset`, `offset + stride`, … below `count`, tick
 * `seq` at `startAtUs + seq / rate` on the shared clock, so the processes take turns on one
 * schedule. A publish is not awaited before the next is due (a slow backend would otherwise
 * stretch the schedule); each is timed to its acknowledgement.
 */
async function publishShare(args: Record<string, unknown>) {
  const count = num(args, 'count');
  const periodUs = 1e6 / num(args, 'rate');
  const offset = num(args, 'offset');
  const stride = num(args, 'stride');
  const startAtUs = num(args, 'startAtUs');
  const failures = new PublishFailures();
  const ackUs: number[] = [];
  const pending: Array<Promise<void>> = [];
  await until(startAtUs);
  const loop0 = performance.eventLoopUtilization();
  for (let seq = offset; seq < count; seq += stride) {
    await until(startAtUs + seq * periodUs);
    const ts = nowUs();
    pending.push(
      shared.log.publish('tick', { seq, ts }).then(
        () => void ackUs.push(nowUs() - ts),
        (error: unknown) => failures.note(error),
      ),
    );
  }
  await Promise.race([Promise.all(pending), sleep(30_000)]);
  const ack = summarizeUs(Float64Array.from(ackUs));
  return {
    sent: pending.length,
    failed: failures.count,
    failureSamples: [...failures.samples],
    ackP50Ms: ack.p50Ms,
    ackP99Ms: ack.p99Ms,
    // How busy this process's event loop was while publishing and delivering.
    loopBusy: performance.eventLoopUtilization(loop0).utilization,
  };
}

/**
 * Publish throughput: `topics` publishers at once from `startAtUs`, each on its own topic,
 * each awaiting its publish before the next (an app's handler that publishes and answers),
 * `perTopic` events each, for at most `timeoutMs`. One topic = sequential publishes.
 */
async function publishBurst(args: Record<string, unknown>) {
  const topics = num(args, 'topics');
  const perTopic = num(args, 'perTopic');
  const deadline = performance.now() + num(args, 'timeoutMs', 60_000);
  const prefix = typeof args['topicPrefix'] === 'string' ? args['topicPrefix'] : 'burst';
  const failures = new PublishFailures();
  let published = 0;
  await until(num(args, 'startAtUs'));
  const startUs = nowUs();
  const publisher = async (topic: string): Promise<void> => {
    for (let i = 0; i < perTopic && performance.now() < deadline; i++) {
      try {
        await shared.log.publish(topic, { i, ts: nowUs() });
        published++;
      } catch (error) {
        failures.note(error);
      }
    }
  };
  await Promise.all(Array.from({ length: topics }, (_, k) => publisher(`${prefix}-${process.pid}-${k}`)));
  return { published, failed: failures.count, failureSamples: [...failures.samples], startUs, endUs: nowUs() };
}

serveIpc(
  {
    subs: () => ticks.active,
    connections: () => handler.core.connections,
    /** Control requests this process handed to another since the last call (none without a directory). */
    forwards: () => directory?.report() ?? { forwarded: 0, unanswered: 0, p50Ms: NaN, p99Ms: NaN },
    cpu: () => process.cpuUsage(),
    memNow: () => process.memoryUsage().rss,
    publishShare,
    publishBurst,
  },
  { port, pid: process.pid },
);
