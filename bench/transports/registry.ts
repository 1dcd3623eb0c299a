/**
 * The transports under comparison. Modules are loaded on demand, so a client process loads
 * only its own client library and a server process only its own server.
 */
import type { BenchServer, ClientFactory, ServerKind, ServerOptions, TransportId } from './types.js';

export interface TransportInfo {
  id: TransportId;
  label: string;
  server: ServerKind;
  /** Resumes from the last tracked id after a reconnect (takes part in the storm). */
  resumes: boolean;
}

export const TRANSPORTS: readonly TransportInfo[] = [
  { id: 'mux', label: 'trpc-sse mux', server: 'trpc-sse', resumes: true },
  { id: 'distinct', label: 'trpc-sse distinct', server: 'trpc-sse', resumes: true },
  { id: 'stock', label: 'tRPC SSE', server: 'stock-sse', resumes: true },
  { id: 'ws', label: 'wsLink', server: 'ws', resumes: true },
  { id: 'raw', label: 'raw SSE', server: 'raw', resumes: false },
];

/** The HTTP/2 scenario's columns: trpc-sse over h2 (TLS) in both modes, wsLink over wss://. */
export const SECURE_TRANSPORTS: readonly TransportInfo[] = [
  { id: 'mux-h2', label: 'trpc-sse mux over h2', server: 'trpc-sse-h2', resumes: true },
  { id: 'distinct-h2', label: 'trpc-sse distinct over h2', server: 'trpc-sse-h2', resumes: true },
  { id: 'ws-tls', label: 'wsLink over wss', server: 'ws-tls', resumes: true },
];

export async function startServer(kind: ServerKind, opts: ServerOptions): Promise<BenchServer> {
  switch (kind) {
    case 'trpc-sse':
      return (await import('./trpcSse.server.js')).startServer(opts);
    case 'stock-sse':
      return (await import('./stockSse.server.js')).startServer(opts);
    case 'ws':
      return (await import('./ws.server.js')).startServer(opts);
    case 'raw':
      return (await import('./raw.server.js')).startServer(opts);
    case 'trpc-sse-h2':
      return (await import('./trpcSse.h2.server.js')).startServer(opts);
    case 'ws-tls':
      return (await import('./ws.tls.server.js')).startServer(opts);
  }
}

export async function clientFactory(id: TransportId, port: number): Promise<ClientFactory> {
  switch (id) {
    case 'mux':
      return (await import('./trpcSse.client.js')).clientFactory(port, 'multiplexed');
    case 'distinct':
      return (await import('./trpcSse.client.js')).clientFactory(port, 'distinct');
    case 'stock':
      return (await import('./stockSse.client.js')).clientFactory(port);
    case 'ws':
      return (await import('./ws.client.js')).clientFactory(port);
    case 'raw':
      return (await import('./raw.client.js')).clientFactory(port);
    case 'mux-h2':
      return (await import('./trpcSse.h2.client.js')).clientFactory(port, 'multiplexed');
    case 'distinct-h2':
      return (await import('./trpcSse.h2.client.js')).clientFactory(port, 'distinct');
    case 'ws-tls':
      return (await import('./ws.tls.client.js')).clientFactory(port);
  }
}
