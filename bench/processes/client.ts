/**
 * A benchmark client process: `client.ts <transport id> <port>`. Forked fresh for every case,
 * on the same machine as the server but in its own process; driven over IPC.
 */
import { num, serveIpc } from '../lib/ipc.js';
import { connect } from '../probes/connect.js';
import { parallelStreams } from '../probes/parallelStreams.js';
import { Storm } from '../probes/storm.js';
import { SubscriberPool } from '../probes/subscribers.js';
import { throughput } from '../probes/throughput.js';
import { connectionDiagnostics } from '../transports/diagnostics.js';
import { clientFactory } from '../transports/registry.js';
import type { TransportId } from '../transports/types.js';

const id = process.argv[2] as TransportId;
const port = Number(process.argv[3]);
const factory = await clientFactory(id, port);
const pool = new SubscriberPool(factory);
const storm = new Storm(factory);

serveIpc(
  {
    throughput: (a) => throughput(factory, num(a, 'count'), num(a, 'timeoutMs', 120_000)),
    parallelStreams: (a) => parallelStreams(factory, num(a, 'n'), num(a, 'perStream'), num(a, 'timeoutMs', 120_000)),
    open: (a) =>
      pool.open({
        n: num(a, 'n'),
        shared: a['shared'] === true,
        record: num(a, 'record', 0),
        batch: num(a, 'batch', 100),
        timeoutMs: num(a, 'timeoutMs', 120_000),
      }),
    markCpu: () => pool.markCpu(),
    collect: (a) => pool.collect(num(a, 'graceMs')),
    closeAll: () => pool.closeAll(),
    connect: (a) =>
      connect(factory, {
        iters: num(a, 'iters'),
        warmup: num(a, 'warmup', 10),
        fresh: a['fresh'] !== false,
        timeoutMs: num(a, 'timeoutMs', 10_000),
      }),
    stormOpen: (a) => storm.open(num(a, 'n'), num(a, 'batch', 100), num(a, 'timeoutMs', 120_000)),
    stormStatus: () => storm.status(),
    stormReport: (a) => storm.report(num(a, 'killedAtUs'), num(a, 'target')),
    stormClose: () => storm.close(),
    diagnostics: () => connectionDiagnostics(),
  },
  { pid: process.pid },
);
