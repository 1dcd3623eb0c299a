/**
 * Runs a README route file the way a fetch runtime (Next.js's app router) does: `Request`s
 * to its exported `GET` and `POST`, `Response`s back. Usage: `tsx fetchRoute.ts <route file>
 * <endpoint>`. Subscribes to a room, posts a message there, reads the stream until the message
 * arrives, and prints what it saw as one JSON line.
 */
import { pathToFileURL } from 'node:url';
import { Output, pipeBody } from '../run.js';

type Handler = (req: Request) => Promise<Response>;

const [routeFile = '', endpoint = ''] = process.argv.slice(2);
const route = (await import(pathToFileURL(routeFile).href)) as { GET?: unknown; POST?: unknown };
if (typeof route.GET !== 'function' || typeof route.POST !== 'function') {
  throw new Error(`${routeFile} exports no GET and POST handlers`);
}
const GET = route.GET as Handler;
const POST = route.POST as Handler;
const base = `http://localhost${endpoint}`;
const room = 'route-file';
const text = 'through the route file';

const stream = await GET(
  new Request(`${base}/onMessage?input=${encodeURIComponent(JSON.stringify({ room }))}`, {
    headers: { accept: 'text/event-stream' },
  }),
);
const output = new Output();
const stop = new AbortController();
void pipeBody(stream, output, stop.signal);
await output.until('the connected event', (seen) => seen.includes('event: connected'));

const sent = await POST(
  new Request(`${base}/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ room, text }),
  }),
);
const sentBody: unknown = await sent.json();
const event = /^id: (.+)\ndata: (.+)$/m.exec(await output.until('the message', (seen) => seen.includes(text)));
stop.abort();

const greeting = await GET(
  new Request(`${base}/greeting?input=${encodeURIComponent(JSON.stringify({ name: 'route' }))}`),
);
console.log(
  JSON.stringify({
    stream: { status: stream.status, contentType: stream.headers.get('content-type') },
    sent: { status: sent.status, body: sentBody },
    event: event ? { id: event[1], data: JSON.parse(event[2] ?? 'null') as unknown } : null,
    greeting: (await greeting.json()) as unknown,
  }),
);
// The handler's heartbeat timer would keep the process alive; the run is over.
process.exit(0);
