/**
 * The last frames a connection wrote, so a client whose stream broke can come back and get
 * everything after its last frame — including frames that were written to a socket that
 * died before delivering them. Bounded by bytes and by age: old frames have almost surely
 * arrived, and an idle connection should hold nothing.
 */
export class ReplayBuffer {
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  #frames: Array<{ seq: number; frame: string; at: number }> = [];
  #head = 0;
  #bytes = 0;
  /** Highest sequence number ever trimmed away (0: nothing trimmed yet). */
  #trimmedThrough = 0;

  constructor(maxBytes: number, maxAgeMs: number) {
    this.#maxBytes = maxBytes;
    this.#maxAgeMs = maxAgeMs;
  }

  get bytes(): number {
    return this.#bytes;
  }

  push(seq: number, frame: string, now: number): void {
    if (this.#maxBytes <= 0) {
      this.#trimmedThrough = seq;
      return;
    }
    this.#frames.push({ seq, frame, at: now });
    // Characters, not bytes: close enough for a bound, and free to compute.
    this.#bytes += frame.length;
    while (this.#bytes > this.#maxBytes && this.#head < this.#frames.length) this.#drop();
    this.#compact();
  }

  /** Drops frames older than the age bound. */
  trim(now: number): void {
    while (this.#head < this.#frames.length && now - this.#frames[this.#head]!.at > this.#maxAgeMs) this.#drop();
    this.#compact();
  }

  /**
   * The frames after `seq`, or `null` when some of them are gone (so the caller cannot
   * resume the connection and must start a new one).
   */
  after(seq: number): string[] | null {
    if (seq < this.#trimmedThrough) return null;
    const out: string[] = [];
    for (let i = this.#head; i < this.#frames.length; i++) {
      const entry = this.#frames[i]!;
      if (entry.seq > seq) out.push(entry.frame);
    }
    return out;
  }

  clear(): void {
    this.#frames = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  #drop(): void {
    const entry = this.#frames[this.#head++]!;
    this.#bytes -= entry.frame.length;
    this.#trimmedThrough = entry.seq;
  }

  // Shifting one by one would be quadratic; slice once half the array is dead.
  #compact(): void {
    if (this.#head === this.#frames.length) {
      this.#frames = [];
      this.#head = 0;
    } else if (this.#head > 64 && this.#head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#head = 0;
    }
  }
}
