import type { Operation } from '@trpc/client';
import type { TRPCCombinedDataTransformer } from '@trpc/server';
import type { Unsubscribable } from '@trpc/server/observable';
import type { ResetInfo } from '../options.js';
import type { EnvelopeObserver, Transport } from '../transport.js';
import { RELAYED } from './relayed.js';
import { errorData, stateData, type EnvelopeData, type SharedMessage, type TabMessage } from './tabMessages.js';

type SubMessage = Extract<SharedMessage, { t: 'sub' }>;

const same = (value: unknown): unknown => value;
/**
 * A follower serialized the input with its transformer and will deserialize what arrives with
 * it: the leader carries both as they are.
 */
const AS_IS: TRPCCombinedDataTransformer = {
  input: { serialize: same, deserialize: same },
  output: { serialize: same, deserialize: same },
};

/**
 * The leader's side of sharing: the subscriptions of other tabs, carried on the leader's
 * transport and relayed back to each tab. Keyed by tab and the tab's own id; dropped when the
 * tab says goodbye or its lock frees (it closed or crashed).
 */
export class LeaderRelay {
  readonly #transport: Transport;
  readonly #me: string;
  readonly #post: (tab: string, message: TabMessage) => void;
  readonly #byTab = new Map<string, Map<string, Unsubscribable>>();
  #closed = false;

  constructor(transport: Transport, me: string, post: (tab: string, message: TabMessage) => void) {
    this.#transport = transport;
    this.#me = me;
    this.#post = post;
  }

  subscribe(message: SubMessage): void {
    if (this.#closed) return;
    const { from: tab, id } = message;
    let subscriptions = this.#byTab.get(tab);
    if (!subscriptions) this.#byTab.set(tab, (subscriptions = new Map<string, Unsubscribable>()));
    // Sent again (the follower saw a new leader announce itself twice): the newer one counts.
    subscriptions.get(id)?.unsubscribe();
    let ended = false;
    /** The leader transport's subscription, once made (the handle may be used before: an immediate failure). */
    const carried: { inner?: Unsubscribable } = {};
    const handle: Unsubscribable = {
      unsubscribe: () => {
        forget();
        carried.inner?.unsubscribe();
      },
    };
    const send = (body: TabMessage): void => {
      if (!this.#closed && !ended) this.#post(tab, body);
    };
    const forget = (): void => {
      ended = true;
      if (subscriptions.get(id) === handle) subscriptions.delete(id);
      if (subscriptions.size === 0 && this.#byTab.get(tab) === subscriptions) this.#byTab.delete(tab);
    };
    const observer: EnvelopeObserver = {
      next: (envelope) => {
        const data = envelopeData(envelope.result as never);
        if (data) send({ v: 1, t: 'ev', from: this.#me, id, envelope: data });
      },
      error: (error) => {
        send({ v: 1, t: 'end', from: this.#me, id, error: errorData(error) });
        forget();
      },
      complete: () => {
        send({ v: 1, t: 'end', from: this.#me, id, error: null });
        forget();
      },
    };
    const op: Operation = {
      id: 0,
      type: 'subscription',
      path: message.path,
      input: message.input,
      signal: null,
      context: {
        [RELAYED]: true,
        ...(message.noRetry ? { retry: false } : {}),
        onReset: (info: ResetInfo) =>
          send({ v: 1, t: 'reset', from: this.#me, id, reason: info.reason, lastEventId: info.lastEventId }),
      },
    };
    carried.inner = this.#transport.subscribe({
      op,
      transformer: AS_IS,
      observer,
      ...(message.lastEventId !== undefined ? { lastEventId: message.lastEventId } : {}),
    });
    if (!ended) subscriptions.set(id, handle);
  }

  unsubscribe(tab: string, id: string): void {
    this.#byTab.get(tab)?.get(id)?.unsubscribe();
  }

  /** The tab left or is gone: its subscriptions stop. */
  dropTab(tab: string): void {
    const subscriptions = this.#byTab.get(tab);
    if (!subscriptions) return;
    this.#byTab.delete(tab);
    for (const handle of [...subscriptions.values()]) handle.unsubscribe();
  }

  /**
   * This tab stops leading: nothing more is relayed (the followers move to the next leader,
   * which resumes each subscription from its last id). The transport is closed by the caller.
   */
  close(): void {
    this.#closed = true;
    this.#byTab.clear();
  }
}

/** An envelope as data for another tab (`null`: nothing the follower needs). */
function envelopeData(result: {
  type?: string;
  state?: 'idle' | 'connecting' | 'pending';
  error?: unknown;
  id?: string;
  data?: unknown;
}): EnvelopeData | null {
  switch (result.type) {
    case 'started':
      return { type: 'started' };
    case 'stopped':
      return { type: 'stopped' };
    case 'state':
      return { type: 'state', state: stateData({ state: result.state!, error: (result.error as never) ?? null }) };
    case undefined:
    case 'data':
      // A tracked value arrives as `{ id, data: { id, data } }`, as tRPC's links emit it.
      return result.id !== undefined
        ? { type: 'data', id: result.id, data: (result.data as { data: unknown }).data }
        : { type: 'data', id: undefined, data: result.data };
    default:
      return null;
  }
}
