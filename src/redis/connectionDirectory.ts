import type { Cluster, Redis } from 'ioredis';
import type { PlainResponse } from '../server/request.js';
import type { ConnectionDirectory, ForwardedControl } from '../server/multiplexed/directory.js';
import type { ReplyMessage, RequestHeader } from '../server/multiplexed/directoryMessages.js';
import { notFound, unavailable } from '../server/multiplexed/directoryResponses.js';
import { PendingReplies } from '../server/multiplexed/pendingReplies.js';
import { randomToken } from '../shared/randomToken.js';
import { FailureStreak } from './failureStreak.js';
import { RecentIds } from './recentIds.js';

/** Options of {@link createRedisConnectionDirectory}. */
export interface RedisConnectionDirectoryOptions {
  /**
   * An ioredis client for commands: a `Redis` (one server) or a `Cluster`. The directory
   * duplicates it once to listen for requests: on a cluster with sharded pub/sub
   * (`SSUBSCRIBE`/`SPUBLISH`, Redis ≥ 7), on one server with `SUBSCRIBE`/`PUBLISH`.
   */
  redis: Redis | Cluster;
  /** Prefix of every key and channel it uses. @default 'trpc-sse:' */
  keyPrefix?: string;
  /**
   * How long an owner record lives without being renewed, in ms; a process that dies stops
   * renewing, and its connections are forgotten after this.
   * @default 30_000
   */
  ttlMs?: number;
  /** How long to wait for the owner's answer before answering 503 (the client retries). @default 5_000 */
  timeoutMs?: number;
  /**
   * Told when listening for requests or renewing owner records starts failing, once per run
   * of failures; both go on trying. @default console.warn
   */
  onError?: (error: unknown) => void;
}

/** A directory with a way to stop it (renewals, the listening connection). */
export interface RedisConnectionDirectory extends ConnectionDirectory {
  close(): Promise<void>;
}

type RequestMessage = RequestHeader & ForwardedControl;

/** How often a process on Redis Cluster checks that its sharded subscription still stands, in ms. */
const SELF_CHECK_MS = 1_000;

/**
 * Multiplexed connections across processes on Redis: each process records the connections it
 * holds (`SET … PX`, renewed while they live) and listens on its own channel; a process that
 * receives a control request for a connection it does not hold publishes it to the owner's
 * channel and relays the owner's answer. The owner authenticates the request itself: the
 * secret is never stored in Redis.
 *
 * On Redis Cluster the channel is a sharded one: a cluster's `PUBLISH` counts only the
 * subscribers on the node that received it (so "nobody listens" could not be told from "the
 * owner listens on another node"), while `SPUBLISH` goes to the node that owns the channel's
 * slot, where the owner's `SSUBSCRIBE` is, and counts it. Every record is written with its own
 * command: records of different connections live in different slots.
 */
export function createRedisConnectionDirectory(opts: RedisConnectionDirectoryOptions): RedisConnectionDirectory {
  const { redis } = opts;
  const prefix = opts.keyPrefix ?? 'trpc-sse:';
  const ttlMs = opts.ttlMs ?? 30_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const sharded = redis.isCluster;
  const processId = randomToken(12);
  const channel = `${prefix}ctl:${processId}`;
  const ownerKey = (connectionId: string): string => `${prefix}conn:${connectionId}`;
  const held = new Set<string>();
  const replies = new PendingReplies(timeoutMs);
  const listening = new FailureStreak('Listening for forwarded control requests on Redis', opts.onError);
  const renewing = new FailureStreak('Renewing connection owner records in Redis', opts.onError);
  let handler: ((request: ForwardedControl) => Promise<PlainResponse>) | undefined;
  /** Requests this process took lately: one published twice (see `publish`) is applied once. */
  const served = new RecentIds(1_000);
  let closed = false;

  const publishOnce = (to: string, text: string): Promise<number> =>
    (sharded ? redis.spublish(to, text) : redis.publish(to, text)) as Promise<number>;

  /**
   * Publishes, and says how many processes listen. On a cluster, a client whose slot map is
   * out of date (after a failover) sends `SPUBLISH` to what is now a replica, which passes the
   * message on to its shard but counts only its own subscribers: none. So 0 there is checked
   * again once the map is refreshed (the message may arrive twice; listeners drop repeats).
   */
  const publish = async (to: string, text: string): Promise<number> => {
    const receivers = await publishOnce(to, text);
    if (receivers > 0 || !sharded) return receivers;
    await new Promise<void>((resolve) => (redis as Cluster).refreshSlotsCache(() => resolve()));
    return publishOnce(to, text);
  };

  // On a cluster, one sharded subscriber per master (ioredis re-subscribes after a failover).
  const listener = sharded ? (redis as Cluster).duplicate([], { shardedSubscribers: true }) : redis.duplicate();
  listener.on('error', () => undefined);
  // Requests wait for the first try only: one that keeps failing (the cluster's subscribers not
  // up yet, a Redis without sharded pub/sub) is reported and tried again meanwhile.
  let firstTry: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (firstTry = resolve));
  void (async () => {
    while (!closed) {
      try {
        await (sharded ? listener.ssubscribe(channel) : listener.subscribe(channel));
        listening.succeeded();
        return;
      } catch (cause) {
        firstTry();
        if (closed) return;
        await listening.failed(cause);
      }
    }
  })().finally(() => firstTry());
  const onMessage = (_channel: string, text: string): void => {
    let message: RequestMessage | ReplyMessage;
    try {
      message = JSON.parse(text) as RequestMessage | ReplyMessage;
    } catch {
      return;
    }
    if (message.kind === 'reply') {
      replies.settle(message.requestId, message.answer);
      return;
    }
    if (message.kind !== 'request') return;
    const { requestId, replyTo, connectionId, secret, body } = message;
    if (!served.add(requestId)) return;
    void (handler ? handler({ connectionId, secret, body }) : Promise.resolve(unavailable('not ready')))
      .catch(() => unavailable('the owner failed to apply the request'))
      .then((answer) => publish(replyTo, JSON.stringify({ kind: 'reply', requestId, answer } satisfies ReplyMessage)))
      .catch(() => undefined);
  };
  listener.on(sharded ? 'smessage' : 'message', onMessage);

  // A cluster that failed over moves the channel's slot to another node, which drops our
  // subscription, and ioredis only follows once it refreshes its slot map (which a listening
  // connection never triggers by itself). So the process checks it can still hear itself, and
  // when nobody listens on its channel it refreshes the map, which re-subscribes on the new node.
  // One check at a time: while a node is away, checks would otherwise pile up in ioredis's
  // offline queue, one a second.
  let checking = false;
  const selfCheck = sharded
    ? setInterval(() => {
        if (checking) return;
        checking = true;
        void ready
          .then(() => publish(channel, JSON.stringify({ kind: 'ping' })))
          .then((receivers) => {
            if (receivers === 0 && !closed) (listener as Cluster).refreshSlotsCache();
          })
          .catch(() => undefined)
          .finally(() => (checking = false));
      }, SELF_CHECK_MS)
    : undefined;
  selfCheck?.unref?.();

  /** Writes this process's record of `connectionId`; one key per command (see above). */
  const record = (connectionId: string): Promise<unknown> => redis.set(ownerKey(connectionId), processId, 'PX', ttlMs);

  // Owner records expire unless renewed: a crashed process's connections fade out.
  const renew = setInterval(
    () => {
      if (held.size === 0) return;
      void Promise.all([...held].map(record)).then(
        () => renewing.succeeded(),
        (cause: unknown) => renewing.report(cause),
      );
    },
    Math.max(1_000, Math.floor(ttlMs / 3)),
  );
  renew.unref?.();

  return {
    announce(connectionId) {
      held.add(connectionId);
      // The stream's first event waits for this: a request sent right after it finds the record.
      return record(connectionId).then(
        () => undefined,
        () => undefined,
      );
    },
    withdraw(connectionId) {
      held.delete(connectionId);
      void redis.del(ownerKey(connectionId)).catch(() => undefined);
    },
    async forward(request) {
      await ready;
      const owner = await redis.get(ownerKey(request.connectionId));
      if (!owner || owner === processId) return null;
      const requestId = randomToken(12);
      const answer = replies.wait(requestId);
      const message: RequestMessage = { kind: 'request', requestId, replyTo: channel, ...request };
      const receivers = await publish(`${prefix}ctl:${owner}`, JSON.stringify(message));
      if (receivers === 0) {
        // The owner is gone (its record has not expired yet): nobody holds the connection.
        replies.settle(requestId, notFound());
        return null;
      }
      return answer;
    },
    serve(serveRequest) {
      handler = serveRequest;
    },
    async close() {
      closed = true;
      clearInterval(renew);
      clearInterval(selfCheck);
      const connectionIds = [...held];
      held.clear();
      await Promise.all(connectionIds.map((connectionId) => redis.del(ownerKey(connectionId)).catch(() => undefined)));
      listener.disconnect();
    },
  };
}
