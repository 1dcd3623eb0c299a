/** Facts about the machine and the software under test, recorded with every run. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

const root = new URL('../', import.meta.url);

function versionOf(packageJsonPath: string): string {
  try {
    return (JSON.parse(readFileSync(new URL(packageJsonPath, root), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function gitCommit(): string {
  try {
    // Read-only: names the commit the numbers belong to.
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

/** Whether src/ has uncommitted changes (then the commit alone does not name the code measured). */
function srcDirty(): boolean | '?' {
  try {
    return execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim() !== '';
  } catch {
    return '?';
  }
}

export function machineFacts() {
  const cpus = os.cpus();
  return {
    nproc: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? '?',
    memGB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    commit: gitCommit(),
    srcDirty: srcDirty(),
    versions: {
      'trpc-sse': versionOf('package.json'),
      '@trpc/server (trpc-sse, wsLink)': versionOf('node_modules/@trpc/server/package.json'),
      '@trpc/client (trpc-sse, wsLink)': versionOf('node_modules/@trpc/client/package.json'),
      '@trpc/server (stock SSE)': versionOf('node_modules/trpc-latest/node_modules/@trpc/server/package.json'),
      '@trpc/client (stock SSE)': versionOf('node_modules/trpc-latest/node_modules/@trpc/client/package.json'),
      ws: versionOf('node_modules/ws/package.json'),
      eventsource: versionOf('node_modules/eventsource/package.json'),
      zod: versionOf('node_modules/zod/package.json'),
      tsx: versionOf('node_modules/tsx/package.json'),
    },
  };
}

export type MachineFacts = ReturnType<typeof machineFacts>;
