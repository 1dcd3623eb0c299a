import { afterEach, describe, expect, test, vi } from 'vitest';
import { SharedValue, withSharedValue } from '../../src/log/sharedValue.js';
import { ServerMonitor } from '../../src/server/observability/monitor.js';
import { messageFrame, subscriptionKey, valueBody } from '../../src/server/valueFrame.js';

const utf8 = (text: string): number => Buffer.byteLength(text, 'utf8');

/** A tracked envelope from an event log that noted when it was published. */
function logEnvelope(id: string, publishedAt: number): readonly unknown[] {
  return withSharedValue([id, { n: 1 }, 'tracked'], new SharedValue(id, { n: 1 }, publishedAt));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('bytesSent', () => {
  test('value frames count their UTF-8 bytes, bodies shared across a fan-out or made per frame', () => {
    const monitor = new ServerMonitor();
    const keys = [subscriptionKey('a'), subscriptionKey('ключ'), subscriptionKey('🔑'), subscriptionKey('a')];
    const bodies = [valueBody('1', '"plain"'), valueBody('2', '"é"'), valueBody(undefined, '"😀 wide"')];
    let expected = 0;
    let seq = 0;
    // Runs of one body over several keys (a fan-out), bodies alternating.
    for (const b of [0, 1, 2, 0, 1, 2, 1, 0, 2]) {
      for (const key of keys) {
        const frame = messageFrame(++seq, key, bodies[b]!);
        monitor.wroteMessage(frame.length, key, bodies[b]!);
        expected += utf8(frame);
      }
    }
    expect(monitor.snapshot(0).bytesSent).toBe(expected);
  });

  test('one source serialized two ways (plain and tagged bytes) counts each text', () => {
    const monitor = new ServerMonitor();
    const key = subscriptionKey('1');
    // What each setting makes of the same event differs in length and in bytes beyond ASCII.
    const plain = valueBody('1', '{"b":{"0":255},"t":"é"}');
    const tagged = valueBody('1', '{"b":{"$trpcSseBinary":"/w=="},"t":"😀😀"}');
    let expected = 0;
    for (const body of [plain, tagged, tagged, plain]) {
      const frame = messageFrame(1, key, body);
      monitor.wroteMessage(frame.length, key, body);
      expected += utf8(frame);
    }
    const events = ['id: 1\ndata: "ü"\n\n', 'id: 1\ndata: "üü"\n\n'];
    for (const chunk of [events[0]!, events[1]!, events[0]!]) {
      monitor.wrote(chunk);
      expected += utf8(chunk);
    }
    expect(monitor.snapshot(0).bytesSent).toBe(expected);
  });

  test('other frames count their UTF-8 bytes, one chunk written to many streams included', () => {
    const monitor = new ServerMonitor();
    const sharedA = 'id: 1\ndata: "ü"\n\n';
    const sharedB = 'id: 2\ndata: "😀"\n\n';
    const writes = [
      sharedA,
      sharedA,
      ': ping\n\n',
      sharedA,
      sharedB,
      sharedB,
      'data: "é"\n\n',
      'data: "e"\n\n',
      sharedA,
    ];
    for (const chunk of writes) monitor.wrote(chunk);
    expect(monitor.snapshot(0).bytesSent).toBe(writes.reduce((sum, chunk) => sum + utf8(chunk), 0));
  });
});

describe('delivery lag', () => {
  test('a fan-out in one turn shares clock readings; every lag is still observed', () => {
    const monitor = new ServerMonitor();
    let now = 10_000;
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => now);
    const envelope = logEnvelope('1', 9_990);
    const lags: number[] = [];
    monitor.onLag((seconds) => lags.push(seconds));
    for (let i = 0; i < 100; i++) monitor.deliveredEnvelope(envelope);
    // The first delivery and the second read the clock; then one reading per 32 deliveries.
    expect(clock.mock.calls.length).toBe(5);
    now += 1;
    const stats = monitor.snapshot(0);
    expect(stats.eventsDelivered).toBe(100);
    expect(stats.deliveryLag.count).toBe(100);
    expect(lags).toEqual(new Array(100).fill(0.01));
  });

  test('a reading does not serve past its turn', async () => {
    const monitor = new ServerMonitor();
    let now = 10_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const envelope = logEnvelope('1', 10_000);
    const lags: number[] = [];
    monitor.onLag((seconds) => lags.push(seconds));
    monitor.deliveredEnvelope(envelope);
    monitor.deliveredEnvelope(envelope);
    // A slow subscriber gets the same event in a later turn, 2 s on.
    await Promise.resolve();
    now += 2_000;
    monitor.deliveredEnvelope(envelope);
    expect(lags).toEqual([0, 0, 2]);
  });

  test('each event of a single stream reads the clock itself', () => {
    const monitor = new ServerMonitor();
    let now = 10_000;
    vi.spyOn(Date, 'now').mockImplementation(() => (now += 1));
    const lags: number[] = [];
    monitor.onLag((seconds) => lags.push(seconds));
    for (let i = 0; i < 3; i++) monitor.deliveredEnvelope(logEnvelope(String(i), 10_000 + i));
    expect(lags).toEqual([0.001, 0.001, 0.001]);
  });
});
