import { isTrackedEnvelope, TRPCError } from '@trpc/server';
import { reportFailure, type ErrorScope } from '../errorShape.js';
import { serializeErrorShape } from '../serialize.js';
import { checkEmittedId, checkTrackedId } from '../trackedId.js';
import { discardSource, pumpSource, type Pump, type PumpOutlet } from '../sourcePump.js';
import { callSubscription, lookupSubscription, type SubscriptionSource } from '../subscriptionCall.js';
import { isCheckpoint, isReset } from '../../log/reset.js';
import { checkpointFrame, failedFrame, resetFrame, returnFrame, startedFrame } from './frames.js';
import { subscriptionKey, valueBody } from '../valueFrame.js';
import type { MuxConnection } from './connection.js';
import type { SubscriptionOutcome } from '../observability/channels.js';
import type { SubscriptionPlace } from '../observability/monitor.js';

/**
 * One subscription on a multiplexed connection: a procedure run whose output becomes frames.
 * It is its pump's outlet itself (no closures per subscription: a connection may hold many).
 */
export class MuxSubscription implements PumpOutlet, SubscriptionPlace {
  readonly mode = 'multiplexed';
  readonly id: string;
  readonly path: string;
  readonly #connection: MuxConnection;
  readonly #abort = new AbortController();
  readonly #scope: ErrorScope;
  /** How each of its value frames starts (valueFrame.ts `subscriptionKey`). */
  readonly #key: string;
  #pump: Pump | undefined;
  #ended = false;
  /** When its procedure started (0: not yet), for the server's figures. */
  #startedAt = 0;
  /** The id it resumes from, until its first item tells whether that worked. */
  #resumeFrom: string | null = null;

  constructor(connection: MuxConnection, id: string, path: string) {
    this.#connection = connection;
    this.id = id;
    this.path = path;
    this.#scope = { path, type: 'subscription', input: undefined, ctx: connection.ctx };
    this.#key = subscriptionKey(id);
  }

  get connectionId(): string {
    return this.#connection.id;
  }

  /** Starts the procedure; failures become a `failed` frame. */
  async start(rawInput: unknown, lastEventId: string | null): Promise<void> {
    const connection = this.#connection;
    try {
      const source = await connection.monitor.startSubscription(
        this,
        lastEventId,
        this.#call,
        this,
        rawInput,
        lastEventId,
      );
      if (this.#ended) {
        discardSource(source);
        return;
      }
      connection.writeFrame((seq) => startedFrame(seq, this.id));
      this.#startedAt = connection.monitor.subscriptionStarted('multiplexed');
      this.#resumeFrom = lastEventId;
      this.#pump = pumpSource(source, this, this.#abort.signal);
    } catch (cause) {
      this.#fail(cause);
    }
  }

  /** Looks the procedure up and calls it. */
  async #call(rawInput: unknown, lastEventId: string | null): Promise<SubscriptionSource> {
    const { router } = this.#connection.options;
    const procedure = await lookupSubscription(router, this.path);
    let input: unknown;
    try {
      input = rawInput === undefined ? undefined : router._def._config.transformer.input.deserialize(rawInput);
    } catch (cause) {
      throw new TRPCError({ code: 'PARSE_ERROR', message: 'The transformer could not deserialize "input"', cause });
    }
    this.#scope.input = input;
    return callSubscription({
      router,
      procedure,
      path: this.path,
      input,
      lastEventId,
      ctx: this.#connection.ctx,
      signal: this.#abort.signal,
    });
  }

  /** Unsubscribe, connection closed: stop the procedure, write nothing. */
  stop(): void {
    if (!this.#end('stopped')) return;
    this.#abort.abort();
    this.#pump?.stop();
  }

  // PumpOutlet: called by the pump.

  value(value: unknown): boolean {
    return this.#writeValue(value);
  }

  drained(): Promise<void> {
    return this.#connection.drained();
  }

  overBudget(): boolean {
    return this.#connection.overBudget();
  }

  complete(): void {
    if (this.#end('completed')) this.#connection.writeFrame((seq) => returnFrame(seq, this.id));
  }

  fail(cause: unknown): void {
    this.#fail(cause);
  }

  /**
   * An observable outran the reader and was stopped: the client resubscribes from its last id
   * (the code is retryable) instead of holding a dead subscription.
   */
  overflow(): void {
    this.#fail(
      new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'The subscription outran its reader and was stopped' }),
      'overflow',
    );
  }

  #writeValue(value: unknown): boolean {
    // Every id written must be one the server accepts back in a `subscribe` op (trackedId.ts).
    const { maxLastEventIdLength } = this.#connection.options;
    const { monitor } = this.#connection;
    if (this.#resumeFrom !== null) this.#resumeDecided(value);
    if (isReset(value)) {
      if (value.lastEventId !== null) checkTrackedId(value.lastEventId, maxLastEventIdLength);
      monitor.reset(this, value.reason, value.lastEventId);
      return this.#connection.writeFrame((seq) => resetFrame(seq, this.id, value.reason, value.lastEventId));
    }
    if (isCheckpoint(value)) {
      checkTrackedId(value.lastEventId, maxLastEventIdLength);
      return this.#connection.writeFrame((seq) => checkpointFrame(seq, this.id, value.lastEventId));
    }
    const serializer = this.#connection.serializer;
    if (isTrackedEnvelope(value)) {
      checkEmittedId(value, maxLastEventIdLength);
      monitor.deliveredEnvelope(value);
      return this.#connection.writeMessage(this.#key, serializer.trackedBody(value));
    }
    monitor.delivered();
    return this.#connection.writeMessage(this.#key, valueBody(undefined, serializer.toJSON(value)));
  }

  /** The first item after a resume: a reset says it fell back, anything else that it went on. */
  #resumeDecided(first: unknown): void {
    this.#resumeFrom = null;
    this.#connection.monitor.resumedFromLog(this, isReset(first) ? first.reason : null);
  }

  #fail(cause: unknown, outcome: SubscriptionOutcome = 'failed'): void {
    if (!this.#end(outcome)) return;
    this.#abort.abort();
    writeFailure(this.#connection, this.id, this.#scope, cause);
  }

  /** Marks the subscription ended and removes it from its connection; false if it already was. */
  #end(outcome: SubscriptionOutcome): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#connection.forget(this);
    const { monitor } = this.#connection;
    if (this.#startedAt) monitor.subscriptionEnded(this, outcome, this.#startedAt);
    else if (outcome !== 'stopped') monitor.subscriptionStartFailed();
    return true;
  }
}

/** Reports a subscription's failure once and tells the client with a `failed` frame. */
export function writeFailure(connection: MuxConnection, subId: string, scope: ErrorScope, cause: unknown): void {
  const error = reportFailure(connection.hooks, cause, scope);
  const shape = serializeErrorShape(connection.options.router, error, scope);
  connection.writeFrame((seq) => failedFrame(seq, subId, shape));
}
