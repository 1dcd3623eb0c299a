import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, test } from 'vitest';
import { NodeResponseSink } from '../../src/adapters/nodeStream.js';

/** Just what the sink touches of a `ServerResponse`; `write` may be told to throw. */
class FakeResponse extends EventEmitter {
  readonly writes: string[] = [];
  writableEnded = false;
  destroyed = false;
  writableNeedDrain = false;
  writableLength = 0;
  readonly writableHighWaterMark = 64;
  failWrites = false;

  write(text: string): boolean {
    if (this.failWrites) throw new Error('broken middleware');
    this.writes.push(text);
    return true;
  }

  end(): void {
    this.writableEnded = true;
  }

  destroy(): void {
    this.destroyed = true;
  }
}

const sinkOn = (res: FakeResponse): NodeResponseSink => new NodeResponseSink(res as unknown as ServerResponse);
const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe('NodeResponseSink', () => {
  test('frames written in one turn reach the response as one write, in order, after the turn', async () => {
    const res = new FakeResponse();
    const sink = sinkOn(res);
    expect(sink.write('a\n\n')).toBe(true);
    expect(sink.write('b\n\n')).toBe(true);
    expect(res.writes).toEqual([]);
    expect(sink.bufferedBytes).toBe(6);
    await nextTick();
    expect(res.writes).toEqual(['a\n\nb\n\n']);
    expect(sink.bufferedBytes).toBe(0);
  });

  test('reaching the high-water mark writes at once; end() writes what is left first', () => {
    const res = new FakeResponse();
    const sink = sinkOn(res);
    sink.write('x'.repeat(40));
    sink.write('y'.repeat(40));
    expect(res.writes).toEqual(['x'.repeat(40) + 'y'.repeat(40)]);
    sink.write('z');
    sink.end();
    expect(res.writes).toEqual(['x'.repeat(40) + 'y'.repeat(40), 'z']);
    expect(res.writableEnded).toBe(true);
  });

  test('a reader behind makes write() say so, and destroy() drops what waits', async () => {
    const res = new FakeResponse();
    const sink = sinkOn(res);
    res.writableNeedDrain = true;
    expect(sink.write('a')).toBe(false);
    sink.destroy();
    await nextTick();
    expect(res.writes).toEqual([]);
    expect(res.destroyed).toBe(true);
  });

  test('a response whose write throws is cut off; the others of the turn still get their text', async () => {
    const broken = new FakeResponse();
    broken.failWrites = true;
    const healthy = new FakeResponse();
    sinkOn(broken).write('a');
    sinkOn(healthy).write('b');
    await nextTick();
    expect(broken.destroyed).toBe(true);
    expect(healthy.writes).toEqual(['b']);
  });
});
