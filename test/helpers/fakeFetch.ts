import type { FetchLike, ResponseLike } from '../../src/client/options.js';

/** A scripted server for client tests: each call answers with the next scripted body. */
export interface ScriptedCall {
  url: string;
  headers: Record<string, string>;
}

export type Script = (call: ScriptedCall, signal: AbortSignal) => ResponseLike | Promise<ResponseLike>;

/** An event-stream response whose body is `chunks`; stays open afterwards if `hold`. */
export function sseResponse(chunks: string[], opts: { hold?: boolean; signal?: AbortSignal } = {}): ResponseLike {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      if (!opts.hold) controller.close();
      else opts.signal?.addEventListener('abort', () => controller.error(new DOMException('aborted', 'AbortError')));
    },
  });
  return {
    ok: true,
    status: 200,
    statusText: 'OK',
    headers: new Headers({ 'content-type': 'text/event-stream' }),
    body,
    text: () => Promise.resolve(chunks.join('')),
  };
}

export function jsonResponse(status: number, json: unknown): ResponseLike {
  const text = JSON.stringify(json);
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: '',
    headers: new Headers({ 'content-type': 'application/json' }),
    body: null,
    text: () => Promise.resolve(text),
  };
}

/** A fetch that records its calls and answers them with `script`. */
export function scriptedFetch(script: Script): { fetch: FetchLike; calls: ScriptedCall[] } {
  const calls: ScriptedCall[] = [];
  return {
    calls,
    fetch: async (url, init) => {
      const call = { url, headers: init.headers };
      calls.push(call);
      return script(call, init.signal);
    },
  };
}
