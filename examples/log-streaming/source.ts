/**
 * A program's output as a subscription: the procedure starts the program and yields its
 * stdout in chunks of whole lines, as bytes (`Uint8Array`, carried as base64 on the wire and
 * a `Uint8Array` again in the browser). Each chunk is tracked by its last line's number, so
 * a page that reconnects restarts the program from there.
 *
 * No queue anywhere: the generator reads the next chunk only when the server asks for the next
 * value, which it does only when the page's stream has room. A slow page stops the reads,
 * the pipe fills, and the program waits (see emit-logs.mjs).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tracked } from '@trpc/server';

export interface LogChunk {
  /** Number of the chunk's first line. */
  firstLine: number;
  lines: number;
  bytes: Uint8Array;
}

const EMITTER = fileURLToPath(new URL('./emit-logs.mjs', import.meta.url));
const NEWLINE = 0x0a;

/** What the running sources have read from their programs: the test of "nothing unbounded". */
export class SourceCounters {
  running = 0;
  bytesRead = 0;
}

function countLines(bytes: Uint8Array): number {
  let count = 0;
  for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, i + 1)) count++;
  return count;
}

export async function* tailProgram(opts: {
  afterLine: number;
  rate: number;
  signal: AbortSignal | undefined;
  counters: SourceCounters;
}) {
  const { counters } = opts;
  const child = spawn(process.execPath, [EMITTER, '--from', String(opts.afterLine), '--rate', String(opts.rate)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  counters.running++;
  // A generator waiting for output is ended by the signal (the server aborts it first).
  const kill = (): boolean => child.kill();
  opts.signal?.addEventListener('abort', kill, { once: true });
  let line = opts.afterLine;
  // The end of a line cut by a chunk boundary, carried into the next chunk.
  let partial: Uint8Array = new Uint8Array(0);
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      counters.bytesRead += chunk.length;
      const data = partial.length ? Buffer.concat([partial, chunk]) : chunk;
      const end = data.lastIndexOf(NEWLINE) + 1;
      partial = data.subarray(end);
      if (end === 0) continue;
      const whole = new Uint8Array(data.subarray(0, end));
      const lines = countLines(whole);
      const firstLine = line + 1;
      line += lines;
      yield tracked(String(line), { firstLine, lines, bytes: whole } satisfies LogChunk);
    }
  } finally {
    counters.running--;
    opts.signal?.removeEventListener('abort', kill);
    child.kill();
  }
}
