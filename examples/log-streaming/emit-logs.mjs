/**
 * A noisy program: numbered log lines on stdout, `--rate` lines per second (0: as fast as the
 * reader takes them), starting after line `--from`: a reader that comes back starts a new one
 * from its last line, and the numbering goes on without a gap or a repeat.
 *
 * It writes only when stdout has room: when the reader stops reading, the pipe fills and
 * this process waits. That is the backpressure the server passes on from a slow page.
 */
import { once } from 'node:events';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { from: { type: 'string', default: '0' }, rate: { type: 'string', default: '5000' } },
});
const rate = Number(values.rate);
let n = Number(values.from);

const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'INFO', 'ERROR', 'INFO'];
const WHAT = [
  'GET /api/orders 200',
  'cache miss user:42',
  'GET /healthz 200',
  'POST /api/cart 201',
  'slow query 812ms',
  'GET /api/items 200',
  'upstream reset',
  'job 7 done',
];
// The reader went away (it closed the pipe): nothing left to do.
process.stdout.on('error', () => process.exit(0));

const line = (i) =>
  `${String(i).padStart(8, '0')} ${new Date().toISOString()} ${LEVELS[i % 8].padEnd(5)} ${WHAT[(i * 5) % 8]} (${(i * 2654435761) % 997}µs)\n`;

for (;;) {
  // A batch per tick: at `rate` lines/s, about 10 ms of them; unbounded, 1,000.
  const batch = rate > 0 ? Math.max(1, Math.round(rate / 100)) : 1_000;
  let text = '';
  for (let i = 0; i < batch; i++) text += line(++n);
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
  await new Promise((resolve) => (rate > 0 ? setTimeout(resolve, (batch / rate) * 1_000) : setImmediate(resolve)));
}
