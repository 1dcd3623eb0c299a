/** A stream that the heartbeat keeps alive. */
export interface HeartbeatTarget {
  /** Set by the stream on every write; cleared by the heartbeat at each tick. */
  wroteSinceTick: boolean;
  /** Writes a keep-alive event. */
  ping(): void;
}

/**
 * One timer for every stream of a server, instead of one per stream.
 *
 * It ticks every `intervalMs / 2` and pings only streams that wrote nothing since the
 * previous tick, so a busy stream costs nothing and an idle one is never silent for
 * longer than `intervalMs` (proxies commonly cut idle connections at 30–60 s).
 */
export class Heartbeat {
  readonly #targets = new Set<HeartbeatTarget>();
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  add(target: HeartbeatTarget): void {
    this.#targets.add(target);
    if (!this.#timer && this.#intervalMs > 0 && Number.isFinite(this.#intervalMs)) {
      this.#timer = setInterval(() => this.#tick(), Math.max(1, Math.floor(this.#intervalMs / 2)));
      // The heartbeat alone must not keep a process alive.
      (this.#timer as { unref?: () => void }).unref?.();
    }
  }

  delete(target: HeartbeatTarget): void {
    this.#targets.delete(target);
    if (this.#targets.size === 0) this.stop();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    for (const target of this.#targets) {
      if (!target.wroteSinceTick) target.ping();
      target.wroteSinceTick = false;
    }
  }
}
