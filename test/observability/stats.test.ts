/**
 * `core.stats()` and the diagnostics channels against a scripted scenario, where every figure
 * is known: clients connect, subscribe, drop and resume from the replay buffer, resume from
 * the log, reset, forge a control request, get cut off for being slow, are drained.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { createSSEFetchHandler } from '../../src/adapters/fetch.js';
import { initTRPC } from '@trpc/server';
import {
  CONNECTION_OPEN_CHANNEL,
  CONTROL_CHANNEL,
  DRAIN_CHANNEL,
  LOG_PUBLISH_CHANNEL,
  RESET_CHANNEL,
  RESUME_CHANNEL,
  SLOW_CONSUMER_CHANNEL,
  STREAM_CLOSE_CHANNEL,
  STREAM_OPEN_CHANNEL,
  SUBSCRIPTION_END_CHANNEL,
  SUBSCRIPTION_START_CHANNEL,
  type StreamCloseMessage,
  type StreamOpenMessage,
  type SubscriptionEndMessage,
  type SubscriptionStartContext,
} from '../../src/server/observability/channels.js';
import { startNodeServer, type RunningServer } from '../helpers/servers.js';
import {
  ChannelRecorder,
  control,
  observedRouter,
  openMux,
  resumeMux,
  StreamReader,
  type MuxClient,
} from './harness.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** No pings during the scenario: every byte written is one the test expects. */
const QUIET = { heartbeatMs: 3_600_000, maxBufferedBytes: 64 * 1024 };

const messages = (reader: StreamReader) => reader.named('message').length;

describe('a scripted scenario over node:http', () => {
  test('every figure of stats() and every channel message matches what happened', async () => {
    const recorder = new ChannelRecorder();
    cleanups.push(() => recorder.close());
    const { router, log } = observedRouter();
    const server: RunningServer = await startNodeServer(router, QUIET);
    cleanups.push(
      () => server.close(),
      () => log.close(),
    );
    const endpoint = server.url;
    const readers: StreamReader[] = [];
    const track = <T extends { stream: StreamReader } | StreamReader>(value: T): T => {
      readers.push(value instanceof StreamReader ? value : value.stream);
      return value;
    };

    // N = 4 multiplexed clients connect; M = 3 of them subscribe; 2 distinct streams subscribe.
    const mux: MuxClient[] = await Promise.all([0, 1, 2, 3].map(() => openMux(endpoint).then(track)));
    for (const client of mux.slice(0, 3)) {
      expect(
        await control(endpoint, client.connectionId, client.secret, [
          { op: 'subscribe', id: 'a', path: 'feed', input: {} },
        ]),
      ).toBe(204);
      await client.stream.until('started', 1);
    }
    const distinct = await Promise.all([0, 1].map(() => StreamReader.open(`${endpoint}/feed`).then(track)));
    await recorder.until(STREAM_OPEN_CHANNEL, 6);

    const firstId = await log.publish('feed', { n: 1 });
    await log.publish('feed', { n: 2 });
    const live = [...mux.slice(0, 3).map((c) => c.stream), ...distinct];
    for (const reader of live) await reader.until('message', 2);
    expect(live.map(messages)).toEqual([2, 2, 2, 2, 2]);

    // A forged control request: the right connection, a wrong secret.
    expect(await control(endpoint, mux[0]!.connectionId, 'forged', [{ op: 'unsubscribe', id: 'a' }])).toBe(403);

    // K = 2 drop; an event is published while they are away; they resume from the replay buffer.
    mux[0]!.stream.cancel();
    mux[1]!.stream.cancel();
    await recorder.until(STREAM_CLOSE_CHANNEL, 2, (m) => m['reason'] === 'client');
    expect(server.core.stats().detachedConnections).toBe(2);
    await log.publish('feed', { n: 3 });
    for (const reader of [mux[2]!.stream, ...distinct]) await reader.until('message', 3);
    for (const i of [0, 1]) mux[i] = track(await resumeMux(endpoint, mux[i]!));
    for (const client of mux.slice(0, 2)) await client.stream.until('message', 1);
    expect(mux.slice(0, 2).map((c) => messages(c.stream))).toEqual([1, 1]);

    // A distinct stream resumes from the log (two events after its id); another one, with an
    // id of another log's life, resets.
    distinct[0]!.cancel();
    distinct[1]!.cancel();
    await recorder.until(STREAM_CLOSE_CHANNEL, 4, (m) => m['reason'] === 'client');
    const fromLog = track(await StreamReader.open(`${endpoint}/feed`, { 'last-event-id': firstId }));
    await fromLog.until('message', 2);
    const reset = track(await StreamReader.open(`${endpoint}/feed`, { 'last-event-id': 'otherlife-1' }));
    await reset.until('reset', 1);

    const beforeFlood = server.core.stats();
    // Nothing else was written: the bytes counted are the bytes the clients received.
    expect(beforeFlood.bytesSent).toBe(readers.reduce((sum, reader) => sum + reader.bytes, 0));
    // 2 events × 5 subscribers, 1 × 5 (two of them into the replay buffer), 2 from the log.
    expect(beforeFlood.eventsDelivered).toBe(17);
    expect(beforeFlood.deliveryLag.count).toBe(17);
    expect(beforeFlood.deliveryLag.counts.at(-1)).toBe(17);

    // One slow consumer: an observable outruns its reader and the stream is cut.
    const flood = await StreamReader.open(`${endpoint}/flood`);
    await recorder.until(STREAM_CLOSE_CHANNEL, 1, (m) => m['reason'] === 'slow');
    flood.cancel();

    // A drain: the 4 multiplexed clients are asked to move, the 2 distinct streams are ended.
    server.core.drain({ withinMs: 0 });
    await recorder.until(STREAM_CLOSE_CHANNEL, 2, (m) => m['reason'] === 'drain');

    const stats = server.core.stats();
    expect({ ...stats, bytesSent: 0, eventsDelivered: 0, deliveryLag: null }).toEqual({
      connections: { distinct: 0, multiplexed: 4 },
      detachedConnections: 0,
      subscriptions: { distinct: 0, multiplexed: 3 },
      subscriptionsEnded: { completed: 0, failed: 0, overflow: 1, stopped: 4 },
      subscriptionStartFailures: 0,
      resumes: { replay: 2, log: 1 },
      replayMisses: { unknown: 0, trimmed: 0, forbidden: 0 },
      resets: { trimmed: 0, unknown: 0, epoch: 1 },
      disconnects: { client: 4, ended: 0, slow: 1, maxDuration: 0, drain: 2, shutdown: 0, replaced: 0 },
      slowConsumerPauses: 0,
      controlRequests: { ok: 3, forbidden: 1 },
      bytesSent: 0,
      eventsDelivered: 0,
      deliveryLag: null,
      drains: 1,
      reconnectsRequested: 6,
    });
    // The flood's values count as delivered (as many as were written before the cut); lag is for log events only.
    expect(stats.eventsDelivered).toBeGreaterThan(17);
    expect(stats.deliveryLag.count).toBe(17);
    for (const client of mux) await client.stream.until('reconnect', 1);

    // The channels told the same story.
    expect(recorder.of(RESUME_CHANNEL)).toEqual([
      {
        source: 'replay',
        resumed: true,
        mode: 'multiplexed',
        connectionId: mux[0]!.connectionId,
        path: null,
        replayedFrames: 1,
        reason: null,
      },
      {
        source: 'replay',
        resumed: true,
        mode: 'multiplexed',
        connectionId: mux[1]!.connectionId,
        path: null,
        replayedFrames: 1,
        reason: null,
      },
      {
        source: 'log',
        resumed: true,
        mode: 'distinct',
        connectionId: null,
        path: 'feed',
        replayedFrames: 0,
        reason: null,
      },
      {
        source: 'log',
        resumed: false,
        mode: 'distinct',
        connectionId: null,
        path: 'feed',
        replayedFrames: 0,
        reason: 'epoch',
      },
    ]);
    expect(recorder.of(RESET_CHANNEL)).toEqual([
      {
        mode: 'distinct',
        path: 'feed',
        id: null,
        connectionId: null,
        reason: 'epoch',
        lastEventId: expect.stringMatching(/-3$/) as unknown,
      },
    ]);
    const controls = recorder.of(`tracing:${CONTROL_CHANNEL}:asyncEnd`);
    expect(controls.map((c) => [c['ops'], (c['result'] as { status: number }).status, c['forwarded']])).toEqual([
      [1, 204, false],
      [1, 204, false],
      [1, 204, false],
      [0, 403, false],
    ]);
    expect(recorder.of(SLOW_CONSUMER_CHANNEL)).toEqual([
      {
        action: 'cut',
        mode: 'distinct',
        connectionId: null,
        path: 'flood',
        bufferedBytes: expect.any(Number) as unknown,
      },
    ]);
    expect(recorder.of(SLOW_CONSUMER_CHANNEL)[0]!['bufferedBytes']).toBeGreaterThan(QUIET.maxBufferedBytes);
    const closes = recorder.of<StreamCloseMessage>(STREAM_CLOSE_CHANNEL);
    expect(closes.map((c) => `${c.mode}:${c.reason}`).sort()).toEqual([
      'distinct:client',
      'distinct:client',
      'distinct:drain',
      'distinct:drain',
      'distinct:slow',
      'multiplexed:client',
      'multiplexed:client',
    ]);
    for (const close of closes) expect(close.durationMs).toBeGreaterThanOrEqual(0);
    // 4 new multiplexed, 2 resumed, 2 + 2 distinct on feed, 1 flood.
    expect(
      recorder
        .of<StreamOpenMessage>(STREAM_OPEN_CHANNEL)
        .map((m) => `${m.mode}:${m.resumed}`)
        .sort(),
    ).toEqual([
      ...Array<string>(5).fill('distinct:false'),
      ...Array<string>(4).fill('multiplexed:false'),
      ...Array<string>(2).fill('multiplexed:true'),
    ]);
    expect(
      recorder
        .of<SubscriptionEndMessage>(SUBSCRIPTION_END_CHANNEL)
        .map((m) => `${m.path}:${m.outcome}`)
        .sort(),
    ).toEqual(['feed:stopped', 'feed:stopped', 'feed:stopped', 'feed:stopped', 'flood:overflow']);
    const starts = recorder.of<SubscriptionStartContext>(`tracing:${SUBSCRIPTION_START_CHANNEL}:asyncEnd`);
    expect(starts.map((s) => `${s.mode}:${s.path}:${s.lastEventId}`).sort()).toEqual(
      [
        'distinct:feed:null',
        'distinct:feed:null',
        `distinct:feed:${firstId}`,
        'distinct:feed:otherlife-1',
        'distinct:flood:null',
        'multiplexed:feed:null',
        'multiplexed:feed:null',
        'multiplexed:feed:null',
      ].sort(),
    );
    expect(recorder.of(`tracing:${SUBSCRIPTION_START_CHANNEL}:error`)).toEqual([]);
    expect(recorder.of(`tracing:${CONNECTION_OPEN_CHANNEL}:asyncEnd`)).toHaveLength(4);
    expect(
      recorder.of(`tracing:${LOG_PUBLISH_CHANNEL}:asyncEnd`).map((m) => [m['log'], m['topic'], typeof m['result']]),
    ).toEqual([
      ['memory', 'feed', 'string'],
      ['memory', 'feed', 'string'],
      ['memory', 'feed', 'string'],
    ]);
    expect(recorder.of(DRAIN_CHANNEL)).toEqual([{ withinMs: 0, refuseNew: false, connections: 4, distinctStreams: 2 }]);
  });

  test('a resume that comes too late, or with a wrong secret, or for a connection gone, is counted by why', async () => {
    const recorder = new ChannelRecorder();
    cleanups.push(() => recorder.close());
    const { router, log } = observedRouter();
    const server = await startNodeServer(router, { ...QUIET, replayBufferBytes: 0 });
    cleanups.push(
      () => server.close(),
      () => log.close(),
    );
    const endpoint = server.url;
    const client = await openMux(endpoint);
    expect(
      await control(endpoint, client.connectionId, client.secret, [
        { op: 'subscribe', id: 'a', path: 'feed', input: {} },
      ]),
    ).toBe(204);
    await client.stream.until('started', 1);
    client.stream.cancel();
    await recorder.until(STREAM_CLOSE_CHANNEL, 1);
    // A frame it will miss, and which no buffer keeps.
    await log.publish('feed', { n: 1 });
    // A wrong secret does not touch the connection; then the right one finds its frames gone
    // (no replay buffer); then the connection, closed by that, is unknown.
    const forged = await resumeMux(endpoint, { ...client, secret: 'forged' });
    const late = await resumeMux(endpoint, client);
    const gone = await resumeMux(endpoint, client);
    for (const reader of [forged, late, gone]) reader.stream.cancel();
    expect(server.core.stats().replayMisses).toEqual({ unknown: 1, trimmed: 1, forbidden: 1 });
    expect(server.core.stats().resumes.replay).toBe(0);
    expect(recorder.of(RESUME_CHANNEL).map((m) => [m['resumed'], m['reason']])).toEqual([
      [false, 'forbidden'],
      [false, 'trimmed'],
      [false, 'unknown'],
    ]);
  });
});

describe('fetch handler', () => {
  test('a writer waiting on a reader that does not read is one pause; failures to start are counted', async () => {
    const recorder = new ChannelRecorder();
    cleanups.push(() => recorder.close());
    const t = initTRPC.create();
    const router = t.router({
      big: t.procedure.subscription(async function* () {
        for (let i = 0; i < 1000; i++) yield 'z'.repeat(1024);
      }),
    });
    const handler = createSSEFetchHandler({ router, endpoint: '/trpc', ...QUIET });
    cleanups.push(() => handler.core.close());
    const response = await handler(new Request('http://x/trpc/big', { headers: { accept: 'text/event-stream' } }));
    // Nobody reads: the body's queue fills past its high-water mark and the generator waits.
    await recorder.until(SLOW_CONSUMER_CHANNEL, 1);
    expect(recorder.of(SLOW_CONSUMER_CHANNEL)).toEqual([
      {
        action: 'pause',
        mode: 'distinct',
        connectionId: null,
        path: 'big',
        bufferedBytes: expect.any(Number) as unknown,
      },
    ]);
    expect(handler.core.stats().slowConsumerPauses).toBe(1);
    await response.body!.cancel();
    await recorder.until(STREAM_CLOSE_CHANNEL, 1);
    expect(handler.core.stats().disconnects.client).toBe(1);

    const missing = await handler(new Request('http://x/trpc/nope', { headers: { accept: 'text/event-stream' } }));
    await missing.text();
    expect(handler.core.stats().subscriptionStartFailures).toBe(1);
    expect(recorder.of(`tracing:${SUBSCRIPTION_START_CHANNEL}:error`).map((m) => m['path'])).toEqual(['nope']);
  });
});
