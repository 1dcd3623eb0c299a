/**
 * The Node adapter's request description computes what it can when asked: the signal's
 * controller on the first read of `signal`, the URL and query on each read. The client
 * leaving must still show however the reads and the response's `close` are ordered.
 */
import { EventEmitter } from 'node:events';
import { expect, test } from 'vitest';
import { NodeSSERequest, type NodeRequest, type NodeResponse } from '../../src/adapters/nodeStream.js';

function fakeRequest(
  url = '/trpc/greet?input=%7B%22a%22%3A1%7D&x=1',
  headers: Record<string, string | string[]> = {},
): NodeRequest {
  return {
    method: 'get',
    url,
    headers: { host: 'example.test', ...headers },
    httpVersionMajor: 1,
  } as unknown as NodeRequest;
}

function fakeResponse(): NodeResponse & { close(ended: boolean): void } {
  const res = new EventEmitter() as EventEmitter & { writableEnded: boolean; close(ended: boolean): void };
  res.writableEnded = false;
  res.close = (ended) => {
    res.writableEnded = ended;
    res.emit('close');
  };
  return res as unknown as NodeResponse & { close(ended: boolean): void };
}

test('method, URL, query and headers read from the Node request', () => {
  const req = new NodeSSERequest(fakeRequest(undefined, { 'x-many': ['a', 'b'] }), fakeResponse(), 'greet');
  expect(req.method).toBe('GET');
  expect(req.path).toBe('greet');
  expect(req.url?.href).toBe('http://example.test/trpc/greet?input=%7B%22a%22%3A1%7D&x=1');
  expect(req.searchParams.get('input')).toBe('{"a":1}');
  expect(req.searchParams.get('x')).toBe('1');
  expect(req.headers.get('Host')).toBe('example.test');
  expect(req.headers.get('x-many')).toBe('a, b');
  expect(req.headers.get('missing')).toBeNull();
});

test('no query, and a URL that does not parse', () => {
  const plain = new NodeSSERequest(fakeRequest('/trpc'), fakeResponse(), '');
  expect([...plain.searchParams]).toEqual([]);
  const broken = new NodeSSERequest(fakeRequest('/trpc', { host: 'bad host' }), fakeResponse(), '');
  expect(broken.url).toBeNull();
});

test('the signal aborts when the response closes before it was ended', () => {
  const res = fakeResponse();
  const req = new NodeSSERequest(fakeRequest(), res, 'greet');
  const { signal } = req;
  expect(signal.aborted).toBe(false);
  res.close(false);
  expect(signal.aborted).toBe(true);
  expect(req.signal).toBe(signal);
});

test('a signal first read after the client left is already aborted', () => {
  const res = fakeResponse();
  const req = new NodeSSERequest(fakeRequest(), res, 'greet');
  res.close(false);
  expect(req.signal.aborted).toBe(true);
});

test('a response we ended does not abort the signal, read before or after', () => {
  const before = fakeResponse();
  const early = new NodeSSERequest(fakeRequest(), before, 'greet');
  const { signal } = early;
  before.close(true);
  expect(signal.aborted).toBe(false);

  const after = fakeResponse();
  const late = new NodeSSERequest(fakeRequest(), after, 'greet');
  after.close(true);
  expect(late.signal.aborted).toBe(false);
});
