import { describe, expect, it } from 'vitest';
import { startedFrame } from '../../src/server/multiplexed/frames.js';
import { messageFrame, subscriptionKey, valueBody } from '../../src/server/valueFrame.js';
import { ReplayBuffer } from '../../src/server/multiplexed/replayBuffer.js';

/** Writes frames 1..n (every fourth a `started` frame, the rest value frames), as a connection does. */
function fill(buffer: ReplayBuffer, n: number, at: (seq: number) => number = () => 0): string[] {
  const written: string[] = [];
  for (let seq = 1; seq <= n; seq++) {
    if (seq % 4 === 0) {
      const frame = startedFrame(seq, `s${seq}`);
      buffer.pushFrame(seq, frame, at(seq));
      written.push(frame);
    } else {
      const trackedId = seq % 2 === 0 ? `e_${seq}` : undefined;
      const json = JSON.stringify({ n: seq, text: 'x'.repeat(seq % 7) });
      const key = subscriptionKey(`sub${seq % 3}`);
      const body = valueBody(trackedId, json);
      buffer.pushMessage(seq, key, body, at(seq));
      written.push(messageFrame(seq, key, body));
    }
  }
  return written;
}

describe('ReplayBuffer', () => {
  it('gives back exactly the frames written after a sequence number, value frames rebuilt byte for byte', () => {
    const buffer = new ReplayBuffer(1 << 20, 60_000);
    const written = fill(buffer, 40);
    expect(buffer.after(0)).toEqual(written);
    expect(buffer.after(17)).toEqual(written.slice(17));
    expect(buffer.after(40)).toEqual([]);
    expect(buffer.holdsAfter(0)).toBe(true);
  });

  it('keeps the frames in order while its store grows, wraps around and shrinks', () => {
    const buffer = new ReplayBuffer(4_000, 60_000);
    const written: string[] = [];
    let seq = 0;
    // Bursts of small and large frames: the number held swings between a few and ~100.
    for (let round = 0; round < 40; round++) {
      const size = round % 3 === 0 ? 2 : round % 3 === 1 ? 200 : 20;
      for (let k = 0; k < 1 + ((round * 7) % 60); k++) {
        const key = subscriptionKey(`s${round % 5}`);
        const body = valueBody(undefined, JSON.stringify('y'.repeat(size)));
        buffer.pushMessage(++seq, key, body, 0);
        written.push(messageFrame(seq, key, body));
        if (seq % 9 === 0) {
          const frame = startedFrame(++seq, `t${seq}`);
          buffer.pushFrame(seq, frame, 0);
          written.push(frame);
        }
      }
      // The oldest frame still held: resuming from just before it gives back the whole tail.
      let oldest = 0;
      while (!buffer.holdsAfter(oldest)) oldest++;
      expect(buffer.after(oldest)).toEqual(written.slice(oldest));
      if (oldest > 0) expect(buffer.after(oldest - 1)).toBeNull();
    }
    // The size bound held it to a tail of what was written.
    let oldest = 0;
    while (!buffer.holdsAfter(oldest)) oldest++;
    expect(oldest).toBeGreaterThan(written.length / 2);
  });

  it('drops the oldest frames past its size bound, and then cannot serve a resume from before them', () => {
    const buffer = new ReplayBuffer(2_000, 60_000);
    const written = fill(buffer, 200);
    expect(buffer.bytes).toBeLessThanOrEqual(2_000);
    // Find the oldest resume point still served: everything after it, in order.
    let from = 200;
    while (from > 0 && buffer.holdsAfter(from - 1)) from--;
    expect(from).toBeGreaterThan(150);
    expect(buffer.after(from)).toEqual(written.slice(from));
    expect(buffer.after(from - 1)).toBeNull();
    // The size bound counts roughly what the frames weigh on the wire.
    const wire = written.slice(from).join('').length;
    expect(Math.abs(buffer.bytes - wire)).toBeLessThan(wire * 0.25);
  });

  it('trims by age, never dropping a frame younger than the bound', () => {
    const maxAgeMs = 1_000;
    const buffer = new ReplayBuffer(1 << 20, maxAgeMs);
    // Frame n written at 50·n ms: 100 frames over 5 s.
    const written = fill(buffer, 100, (seq) => seq * 50);
    const now = 100 * 50 + 10;
    buffer.trim(now);
    const youngest = written.filter((_, i) => now - (i + 1) * 50 <= maxAgeMs);
    expect(buffer.after(0)).toBeNull(); // old frames are gone, so a resume from 0 is refused
    let from = 100;
    while (from > 0 && buffer.holdsAfter(from - 1)) from--;
    const kept = buffer.after(from)!;
    // Everything young is kept; old frames linger at most one time mark (100 ms) past the bound.
    expect(kept.slice(-youngest.length)).toEqual(youngest);
    expect(kept.length).toBeLessThanOrEqual(youngest.length + 100 / 50 + 1);
    buffer.trim(now + 10 * maxAgeMs);
    expect(buffer.bytes).toBe(0);
    expect(buffer.holdsAfter(99)).toBe(false);
    expect(buffer.holdsAfter(100)).toBe(true);
  });

  it('with a size bound of 0 holds nothing and serves only a client that has every frame', () => {
    const buffer = new ReplayBuffer(0, 60_000);
    fill(buffer, 10);
    expect(buffer.bytes).toBe(0);
    expect(buffer.after(9)).toBeNull();
    expect(buffer.after(10)).toEqual([]);
  });

  it('after clear() holds nothing and refuses resumes from before it', () => {
    const buffer = new ReplayBuffer(1 << 20, 60_000);
    fill(buffer, 10);
    buffer.clear();
    expect(buffer.bytes).toBe(0);
    expect(buffer.after(5)).toBeNull();
    expect(buffer.after(10)).toEqual([]);
  });
});
