/** Runs an example from the command line: PORT and HOST from the environment, Ctrl-C to stop. */
import type { ExampleServer } from './exampleServer.js';

export async function runFromCommandLine(
  name: string,
  start: (opts: { port: number; host: string }) => Promise<ExampleServer>,
): Promise<void> {
  const server = await start({ port: Number(process.env['PORT'] ?? 3000), host: process.env['HOST'] ?? '127.0.0.1' });
  console.log(`${name}: open ${server.url}  (Ctrl-C to stop)`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
