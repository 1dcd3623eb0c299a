import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SERVER_SCRIPT = fileURLToPath(new URL('../fixtures/serverProcess.ts', import.meta.url));
const REDIS_SERVER_SCRIPT = fileURLToPath(new URL('../fixtures/redisServerProcess.ts', import.meta.url));

export interface ServerProcess {
  port: number;
  child: ChildProcess;
  /** SIGKILL: the process dies without closing anything, as in a crash. */
  kill(): Promise<void>;
  /** SIGTERM, as a deploy sends; resolves with the exit code. */
  terminate(): Promise<number | null>;
}

/** Starts the test server in a child process; resolves once it listens. */
/** A server process of a multi-process deployment on the redis-server at `redisPort`. */
export function startRedisServerProcess(redisPort: number): Promise<ServerProcess> {
  return startScript(REDIS_SERVER_SCRIPT, [String(0), String(redisPort)], {});
}

export function startServerProcess(port = 0, env: Record<string, string> = {}): Promise<ServerProcess> {
  return startScript(SERVER_SCRIPT, [String(port)], env);
}

function startScript(script: string, args: string[], env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server process did not start: ${out}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}: ${out}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        port: Number(match[1]),
        child,
        terminate: () =>
          new Promise<number | null>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) {
              done(child.exitCode);
              return;
            }
            child.once('exit', (code) => done(code));
            child.kill('SIGTERM');
          }),
        kill: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) {
              done();
              return;
            }
            child.once('exit', () => done());
            child.kill('SIGKILL');
          }),
      });
    });
  });
}
