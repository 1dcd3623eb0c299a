/**
 * The browser scenario's columns: which reader runs in the page, against which server. The
 * two EventSource columns read the same kind of stream as sseLink distinct (trpc-sse's
 * tRPC-v11 dialect, byte-compatible with EventSource) and the least a server can send (the raw
 * SSE server's bare `data:` lines), with the least a page can do with it (`JSON.parse`).
 */
export type BrowserReader = 'sselink-mux' | 'sselink-distinct' | 'eventsource-trpc' | 'eventsource-raw';

export interface BrowserColumn {
  id: BrowserReader;
  label: string;
  /** The benchmark server the page reads from. */
  server: 'trpc-sse' | 'raw';
}

export const BROWSER_COLUMNS: readonly BrowserColumn[] = [
  { id: 'sselink-mux', label: 'sseLink mux', server: 'trpc-sse' },
  { id: 'sselink-distinct', label: 'sseLink distinct', server: 'trpc-sse' },
  { id: 'eventsource-trpc', label: 'EventSource, trpc-sse stream', server: 'trpc-sse' },
  { id: 'eventsource-raw', label: 'EventSource, raw SSE server', server: 'raw' },
];
