import { isTrackedEnvelope, TRPCError } from '@trpc/server';
import { reportFailure, type ErrorScope } from '../errorShape.js';
import { serializeErrorShape } from '../serialize.js';
import { checkEmittedId, checkTrackedId } from '../trackedId.js';
import { discardSource, pumpSource, type Pump, type PumpOutlet } from '../sourcePump.js';
import { callSubscription, lookupSubscription } from '../subscriptionCall.js';
import { isCheckpoint, isReset } from '../../log/reset.js';
import { checkpointFrame, failedFrame, resetFrame, returnFrame, startedFrame } from './frames.js';
import { subscriptionKey, valueBody } from '../valueFrame.js';
import type { MuxConnection } from './connection.js';

/**
 * One subscription on a multiplexed connection: a procedure run whose output becomes frames.
 * It is its pump's outlet itself (no closures per subscription: a connection may hold many).
 */
export class MuxSubscription implements PumpOutlet {
  readonly id: string;
  readonly path: string;
  readonly #connection: MuxConnection;
  readonly #abort = new AbortController();
  readonly #scope: ErrorScope;
  /** How each of its value frames starts (valueFrame.ts `subscriptionKey`). */
  readonly #key: string;
  #pump: Pump | undefined;
  #ended = false;

  constructor(connection: MuxConnection, id: string, path: string) {
    this.#connection = connection;
    this.id = id;
    this.path = path;
    this.#scope = { path, type: 'subscription', input: undefined, ctx: connection.ctx };
    this.#key = subscriptionKey(id);
  }

  /** Starts the procedure; failures become a `failed` frame. */
  async start(rawInput: unknown, lastEventId: string | null): Promise<void> {
    const connection = this.#connection;
    const { router } = connection.options;
    try {
      const procedure = await lookupSubscription(router, this.path);
      let input: unknown;
      try {
        input = rawInput === undefined ? undefined : router._def._config.transformer.input.deserialize(rawInput);
      } catch (cause) {
        throw new TRPCError({ code: 'PARSE_ERROR', message: 'The transformer could not deserialize "input"', cause });
      }
      this.#scope.input = input;
      const source = await callSubscription({
        router,
        procedure,
        path: this.path,
        input,
        lastEventId,
        ctx: connection.ctx,
        signal: this.#abort.signal,
      });
      if (this.#ended) {
        discardSource(source);
        return;
      }
      connection.writeFrame((seq) => startedFrame(seq, this.id));
      this.#pump = pumpSource(source, this, this.#abort.signal);
    } catch (cause) {
      this.#fail(cause);
    }
  }

  /** Unsubscribe, connection closed: stop the procedure, write nothing. */
  stop(): void {
    if (!this.#end()) return;
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
    if (this.#end()) this.#connection.writeFrame((seq) => returnFrame(seq, this.id));
  }

  fail(cause: unknown): void {
    this.#fail(cause);
  }

  /**
   * An observable outran the reader and was stopped: the client resubscribes from its last id
   * (the code is retryable) instead of holding a dead subscription.
   */
  overflow(): void {
    this.#fail(new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'The subscription outran its reader and was stopped' }));
  }

  #writeValue(value: unknown): boolean {
    // Every id written must be one the server accepts back in a `subscribe` op (trackedId.ts).
    const { maxLastEventIdLength } = this.#connection.options;
    if (isReset(value)) {
      if (value.lastEventId !== null) checkTrackedId(value.lastEventId, maxLastEventIdLength);
      return this.#connection.writeFrame((seq) => resetFrame(seq, this.id, value.reason, value.lastEventId));
    }
    if (isCheckpoint(value)) {
      checkTrackedId(value.lastEventId, maxLastEventIdLength);
      return this.#connection.writeFrame((seq) => checkpointFrame(seq, this.id, value.lastEventId));
    }
    const serializer = this.#connection.serializer;
    if (isTrackedEnvelope(value)) {
      checkEmittedId(value, maxLastEventIdLength);
      return this.#connection.writeMessage(this.#key, serializer.trackedBody(value));
    }
    return this.#connection.writeMessage(this.#key, valueBody(undefined, serializer.toJSON(value)));
  }

  #fail(cause: unknown): void {
    if (!this.#end()) return;
    this.#abort.abort();
    writeFailure(this.#connection, this.id, this.#scope, cause);
  }

  /** Marks the subscription ended and removes it from its connection; false if it already was. */
  #end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#connection.forget(this);
    return true;
  }
}

/** Reports a subscription's failure once and tells the client with a `failed` frame. */
export function writeFailure(connection: MuxConnection, subId: string, scope: ErrorScope, cause: unknown): void {
  const error = reportFailure(connection.hooks, cause, scope);
  const shape = serializeErrorShape(connection.options.router, error, scope);
  connection.writeFrame((seq) => failedFrame(seq, subId, shape));
}
