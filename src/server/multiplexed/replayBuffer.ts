import { messageFrame } from '../valueFrame.js';

/** The smallest ring (slots, two per frame): a power of two. */
const MIN_RING_SLOTS = 16;

/** How often a connection notes the time in its replay buffer (the age bound's resolution). */
const MARK_EVERY_MS = 100;

/** Characters a held frame takes on the wire, give or take the digits of its sequence number. */
function frameSize(key: string | null, text: string): number {
  return key === null ? text.length : key.length + text.length + 20;
}

/**
 * The last frames a connection wrote, so a client whose stream broke can come back and get
 * everything after its last frame — including frames that were written to a socket that
 * died before delivering them. Bounded by size and by age: old frames have almost surely
 * arrived, and an idle connection should hold nothing.
 *
 * Every connection of a fan-out holds a few seconds of frames, so they are kept as what
 * rebuilds them, not as text: a value frame is its subscription's key and its body (see
 * valueFrame.ts) — strings that exist anyway, the body being shared by every subscriber of a log
 * event — so a frame costs two array slots instead of a copy of its text. Sequence numbers
 * are consecutive and not stored; the time is noted every {@link MARK_EVERY_MS}.
 */
export class ReplayBuffer {
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  /**
   * A ring of two slots per frame: subscription key and body (value frames), or null and the
   * frame's text. Its length is 0 or a power of two; it doubles when full, shrinks when mostly
   * empty and is let go when nothing is held, so frames are never shifted one by one.
   */
  #ring: Array<string | null> = [];
  /** Slot index of the oldest frame held. */
  #head = 0;
  /** Frames held. */
  #count = 0;
  /** Sequence number of the frame at {@link #head}. */
  #headSeq = 1;
  #bytes = 0;
  /** Highest sequence number ever trimmed away (0: nothing trimmed yet). */
  #trimmedThrough = 0;
  /** Pairs (seq, time): frames from `seq` on were written at `time` or later. */
  #marks: number[] = [];

  constructor(maxBytes: number, maxAgeMs: number) {
    this.#maxBytes = maxBytes;
    this.#maxAgeMs = maxAgeMs;
  }

  /** Characters the frames held would take on the wire: the size bound. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Records value frame `seq` (see {@link messageFrame}). */
  pushMessage(seq: number, key: string, body: string, now: number): void {
    this.#push(seq, key, body, now);
  }

  /** Records any other frame, as its text. */
  pushFrame(seq: number, frame: string, now: number): void {
    this.#push(seq, null, frame, now);
  }

  /** Drops frames older than the age bound. */
  trim(now: number): void {
    const marks = this.#marks;
    let i = 0;
    for (; i < marks.length; i += 2) {
      const last = i + 2 >= marks.length;
      // The frames from this mark to the next were all written before the next mark's time.
      const newest = last ? marks[i + 1]! + MARK_EVERY_MS : marks[i + 3]!;
      if (now - newest <= this.#maxAgeMs) break;
      const nextSeq = last ? Infinity : marks[i + 2]!;
      while (this.#count > 0 && this.#headSeq < nextSeq) this.#drop();
    }
    if (i > 0) marks.splice(0, i);
    this.#fit();
  }

  /** Whether every frame after `seq` is still held. */
  holdsAfter(seq: number): boolean {
    return seq >= this.#trimmedThrough;
  }

  /**
   * The frames after `seq`, or `null` when some of them are gone (so the caller cannot
   * resume the connection and must start a new one).
   */
  after(seq: number): string[] | null {
    if (!this.holdsAfter(seq)) return null;
    const out: string[] = [];
    const ring = this.#ring;
    const mask = ring.length - 1;
    for (let n = 0, frameSeq = this.#headSeq; n < this.#count; n++, frameSeq++) {
      if (frameSeq <= seq) continue;
      const i = (this.#head + 2 * n) & mask;
      const key = ring[i] ?? null;
      out.push(key === null ? ring[i + 1]! : messageFrame(frameSeq, key, ring[i + 1]!));
    }
    return out;
  }

  clear(): void {
    this.#trimmedThrough = this.#headSeq + this.#count - 1;
    this.#headSeq += this.#count;
    this.#ring = [];
    this.#head = 0;
    this.#count = 0;
    this.#bytes = 0;
    this.#marks = [];
  }

  #push(seq: number, key: string | null, text: string, now: number): void {
    if (this.#maxBytes <= 0) {
      this.#trimmedThrough = seq;
      this.#headSeq = seq + 1;
      return;
    }
    if (this.#count === 0) this.#headSeq = seq;
    if (2 * this.#count === this.#ring.length) this.#resize(Math.max(MIN_RING_SLOTS, 2 * this.#ring.length));
    const i = (this.#head + 2 * this.#count) & (this.#ring.length - 1);
    this.#ring[i] = key;
    this.#ring[i + 1] = text;
    this.#count++;
    this.#bytes += frameSize(key, text);
    const marks = this.#marks;
    if (marks.length === 0 || now - marks[marks.length - 1]! >= MARK_EVERY_MS) marks.push(seq, now);
    // A mark whose frames were all dropped for size tells nothing any more.
    if (marks.length > 2 && marks[2]! <= this.#headSeq) marks.splice(0, 2);
    while (this.#bytes > this.#maxBytes && this.#count > 0) this.#drop();
    this.#fit();
  }

  #drop(): void {
    const ring = this.#ring;
    const i = this.#head;
    this.#bytes -= frameSize(ring[i] ?? null, ring[i + 1]!);
    ring[i] = ring[i + 1] = null;
    this.#head = (i + 2) & (ring.length - 1);
    this.#count--;
    this.#trimmedThrough = this.#headSeq;
    this.#headSeq++;
  }

  /** Lets the ring go when it holds nothing, and halves it when a quarter of it would do. */
  #fit(): void {
    if (this.#count === 0) {
      if (this.#ring.length > 0) this.#ring = [];
      this.#head = 0;
      this.#marks.length = 0;
    } else if (this.#ring.length > MIN_RING_SLOTS && 8 * this.#count <= this.#ring.length) {
      this.#resize(this.#ring.length / 2);
    }
  }

  /** Moves the frames held, oldest first, into a ring of `slots` slots. */
  #resize(slots: number): void {
    const old = this.#ring;
    const ring = new Array<string | null>(slots).fill(null);
    const mask = old.length - 1;
    for (let n = 0; n < this.#count; n++) {
      const from = (this.#head + 2 * n) & mask;
      ring[2 * n] = old[from] ?? null;
      ring[2 * n + 1] = old[from + 1] ?? null;
    }
    this.#ring = ring;
    this.#head = 0;
  }
}
