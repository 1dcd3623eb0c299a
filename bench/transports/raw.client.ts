/** The minimal reader: `fetch`, split the body on blank lines, `JSON.parse` each `data:` line. */
import { HOST } from './listen.js';
import type { ClientFactory, ProcedurePath, SubscribeHandlers } from './types.js';

const ROUTES: Partial<Record<ProcedurePath, string>> = { stream: '/stream', onTick: '/tick', hello: '/hello' };

async function read(url: string, signal: AbortSignal, h: SubscribeHandlers): Promise<void> {
  const res = await fetch(url, { signal, headers: { accept: 'text/event-stream' } });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  h.onStarted();
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let start = 0;
    for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n', start)) {
      const frame = buffer.slice(start, end);
      start = end + 2;
      if (frame.startsWith('data: ')) h.onData(JSON.parse(frame.slice(6)));
    }
    if (start > 0) buffer = buffer.slice(start);
  }
  h.onComplete();
}

export function clientFactory(port: number): ClientFactory {
  return () => {
    const streams = new Set<AbortController>();
    return {
      subscribe(path, input, h) {
        const route = ROUTES[path];
        if (!route) throw new Error(`raw SSE has no ${path}`);
        const count = (input as { count?: number } | undefined)?.count;
        const abort = new AbortController();
        streams.add(abort);
        read(`http://${HOST}:${port}${route}${count ? `?count=${count}` : ''}`, abort.signal, h).catch(
          (error: unknown) => {
            if (!abort.signal.aborted) h.onError(error);
          },
        );
        return () => {
          streams.delete(abort);
          abort.abort();
        };
      },
      close() {
        for (const abort of streams) abort.abort();
        streams.clear();
      },
    };
  };
}
