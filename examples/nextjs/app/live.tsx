'use client';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useEffect, useReducer, useState, type FormEvent } from 'react';
import type { SSEClient } from 'trpc-sse/client';
import type { Message, Tick } from '../server/events';
import { useSSEClient, useTRPC } from '../trpc/client';

/** How many of the newest events the page lists (its counters cover every event). */
const SHOWN = 100;

const STATE_LABEL = { idle: 'idle', connecting: 'connecting', pending: 'connected' } as const;

/** A subscription's `status` from `useSubscription`, in words: `pending` is tRPC's name for started. */
const SUBSCRIPTION_LABEL = { idle: 'idle', connecting: 'connecting', pending: 'live', error: 'failed' } as const;

type ConnectionStateName = keyof typeof STATE_LABEL;

interface Connection {
  /** As tRPC reports it for `wsLink` too: idle, connecting, pending (open). */
  state: ConnectionStateName;
  error: string | null;
  /** `auto` until the server has answered; then `multiplexed`, or `distinct` after a fallback. */
  mode: SSEClient['mode'];
  /** Why the client fell back to one stream per subscription, if it did. */
  fallback: string | null;
}

/** The client's connection. Its mode settles when the state changes, so both are read together. */
function useConnection(sse: SSEClient): Connection {
  const [current, setCurrent] = useState<Connection>({ state: 'idle', error: null, mode: sse.mode, fallback: null });
  useEffect(() => {
    const subscription = sse.connectionState.subscribe({
      next: (value) =>
        setCurrent({
          state: value.state,
          error: value.error ? value.error.message : null,
          mode: sse.mode,
          fallback: sse.fallbackReason ? sse.fallbackReason.message : null,
        }),
    });
    return () => subscription.unsubscribe();
  }, [sse]);
  return current;
}

/** A tick as it arrived: with the id the client resumes from. */
interface TrackedTick {
  id: string;
  tick: Tick;
}

interface TickFeed {
  /** Newest first. */
  recent: TrackedTick[];
  received: number;
  /** Ticks skipped between two received ones: lost. */
  missing: number;
  /** Ticks received a second time (or out of order). */
  duplicates: number;
  last: number | null;
}

function addTick(feed: TickFeed, { id, tick }: TrackedTick): TickFeed {
  const { last } = feed;
  return {
    recent: [{ id, tick }, ...feed.recent].slice(0, SHOWN),
    received: feed.received + 1,
    missing: feed.missing + (last !== null && tick.n > last + 1 ? tick.n - last - 1 : 0),
    duplicates: feed.duplicates + (last !== null && tick.n <= last ? 1 : 0),
    last: last === null ? tick.n : Math.max(last, tick.n),
  };
}

const NO_TICKS: TickFeed = { recent: [], received: 0, missing: 0, duplicates: 0, last: null };

function Ticks() {
  const trpc = useTRPC();
  const [feed, add] = useReducer(addTick, NO_TICKS);
  // A tracked event arrives as `{ id, data }`: the id is what the client resumes from.
  const subscription = useSubscription(
    trpc.onTick.subscriptionOptions(undefined, { onData: (event) => add({ id: event.id, tick: event.data }) }),
  );
  return (
    <section>
      <h2>
        Server clock <small id="ticks-status">{SUBSCRIPTION_LABEL[subscription.status]}</small>
      </h2>
      <p>
        received <b id="received">{feed.received}</b> · missing <b id="missing">{feed.missing}</b> · duplicates{' '}
        <b id="duplicates">{feed.duplicates}</b>
      </p>
      {subscription.error ? <p className="error">{subscription.error.message}</p> : null}
      <ul id="ticks">
        {feed.recent.map(({ id, tick }, i) => (
          // Keyed by position from the end: a repeated event still renders (and is counted).
          <li key={feed.received - i} data-n={tick.n} data-id={id}>
            tick {tick.n} <time>{tick.at.slice(11, 23)}</time> <small>id {id}</small>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Messages() {
  const trpc = useTRPC();
  // `arrival` numbers what came in, so even a repeated event gets a row of its own.
  const [messages, setMessages] = useState<Array<{ arrival: number; id: string; message: Message }>>([]);
  const subscription = useSubscription(
    trpc.onMessage.subscriptionOptions(undefined, {
      onData: (event) =>
        setMessages((list) =>
          [{ arrival: (list[0]?.arrival ?? 0) + 1, id: event.id, message: event.data }, ...list].slice(0, SHOWN),
        ),
    }),
  );
  const post = useMutation(trpc.post.mutationOptions());
  const [text, setText] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    post.mutate({ text }, { onSuccess: () => setText('') });
  };
  return (
    <section>
      <h2>
        Messages <small id="messages-status">{SUBSCRIPTION_LABEL[subscription.status]}</small>
      </h2>
      <form id="post" onSubmit={submit}>
        <input
          id="text"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Say something"
          maxLength={200}
        />
        <button type="submit" disabled={post.isPending || text.trim() === ''}>
          Send
        </button>
      </form>
      {post.error ? <p className="error">{post.error.message}</p> : null}
      <ul id="messages">
        {messages.map(({ arrival, id, message }) => (
          <li key={arrival} data-id={id}>
            <time>{message.at.slice(11, 19)}</time> {message.text}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function Live() {
  const trpc = useTRPC();
  const sse = useSSEClient();
  const connection = useConnection(sse);
  const info = useQuery(trpc.info.queryOptions());
  return (
    <>
      <p className="status">
        Connection <b id="state">{STATE_LABEL[connection.state]}</b> · mode <b id="mode">{connection.mode}</b>
        {connection.fallback ? <span className="error"> ({connection.fallback})</span> : null}
        {connection.error ? <span className="error"> · {connection.error}</span> : null} · server up since{' '}
        <span id="started">{info.data ? info.data.startedAt.slice(11, 19) : '…'}</span>
      </p>
      <Ticks />
      <Messages />
    </>
  );
}
