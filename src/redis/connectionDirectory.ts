import type { Redis } from 'ioredis';
import type { PlainResponse } from '../server/request.js';
import type { ConnectionDirectory, ForwardedControl } from '../server/multiplexed/directory.js';
import type { ReplyMessage, RequestHeader } from '../server/multiplexed/directoryMessages.js';
import { notFound, unavailable } from '../server/multiplexed/directoryResponses.js';
import { PendingReplies } from '../server/multiplexed/pendingReplies.js';
import { randomToken } from '../shared/randomToken.js';

/** Options of {@link createRedisConnectionDirectory}. */
export interface RedisConnectionDirectoryOptions {
  /** An ioredis client for commands. The directory duplicates it once to listen for requests. */
  redis: Redis;
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
}

/** A directory with a way to stop it (renewals, the listening connection). */
export interface RedisConnectionDirectory extends ConnectionDirectory {
  close(): Promise<void>;
}

type RequestMessage = RequestHeader & ForwardedControl;

/**
 * Multiplexed connections across processes on Redis: each process records the connections it
 * holds (`SET … PX`, renewed while they live) and listens on its own channel; a process that
 * receives a control request for a connection it does not hold publishes it to the owner's
 * channel and relays the owner's answer. The owner authenticates the request itself: the
 * secret is never stored in Redis.
 */
export function createRedisConnectionDirectory(opts: RedisConnectionDirectoryOptions): RedisConnectionDirectory {
  const { redis } = opts;
  const prefix = opts.keyPrefix ?? 'trpc-sse:';
  const ttlMs = opts.ttlMs ?? 30_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const processId = randomToken(12);
  const channel = `${prefix}ctl:${processId}`;
  const ownerKey = (connectionId: string): string => `${prefix}conn:${connectionId}`;
  const held = new Set<string>();
  const replies = new PendingReplies(timeoutMs);
  let handler: ((request: ForwardedControl) => Promise<PlainResponse>) | undefined;

  const listener = redis.duplicate();
  listener.on('error', () => undefined);
  const ready = listener.subscribe(channel);
  listener.on('message', (_channel: string, text: string) => {
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
    const { requestId, replyTo, connectionId, secret, body } = message;
    void (handler ? handler({ connectionId, secret, body }) : Promise.resolve(unavailable('not ready')))
      .catch(() => unavailable('the owner failed to apply the request'))
      .then((answer) =>
        redis.publish(replyTo, JSON.stringify({ kind: 'reply', requestId, answer } satisfies ReplyMessage)),
      )
      .catch(() => undefined);
  });

  // Owner records expire unless renewed: a crashed process's connections fade out.
  const renew = setInterval(
    () => {
      if (held.size === 0) return;
      const pipeline = redis.pipeline();
      for (const connectionId of held) pipeline.set(ownerKey(connectionId), processId, 'PX', ttlMs);
      void pipeline.exec().catch(() => undefined);
    },
    Math.max(1_000, Math.floor(ttlMs / 3)),
  );
  renew.unref?.();

  return {
    announce(connectionId) {
      held.add(connectionId);
      void redis.set(ownerKey(connectionId), processId, 'PX', ttlMs).catch(() => undefined);
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
      const receivers = await redis.publish(`${prefix}ctl:${owner}`, JSON.stringify(message));
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
      clearInterval(renew);
      const pipeline = redis.pipeline();
      for (const connectionId of held) pipeline.del(ownerKey(connectionId));
      held.clear();
      await pipeline.exec().catch(() => undefined);
      listener.disconnect();
    },
  };
}
