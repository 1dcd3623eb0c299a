/** `npm run demo`: starts the demo on http://127.0.0.1:3000 (PORT and HOST override). */
import { startDemo } from './app.js';

const demo = await startDemo({
  port: Number(process.env['PORT'] ?? 3000),
  host: process.env['HOST'] ?? '127.0.0.1',
});
console.log(`trpc-sse demo: open ${demo.url}  (Ctrl-C to stop)`);
const stop = (): void => {
  void demo.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
