/**
 * Scratch app projects for the package tests: a folder with its own package.json, the packed
 * trpc-sse copied into node_modules (a real copy, so it resolves its peers from the app's
 * node_modules, as an installed package does), and the peers linked from this repository:
 * `@trpc/*` of the pinned release or of the lowest one of the peer range, express, ioredis and
 * the `@types` the declarations refer to.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { PackedPackage } from './packSetup.js';

const run = promisify(execFile);

/** Which `@trpc/server` and `@trpc/client` the app gets. */
export type TrpcRelease = 'pinned' | 'lowest';

export interface ScratchOptions {
  /** A readable prefix for the folder. */
  name: string;
  type: 'commonjs' | 'module';
  trpc: TrpcRelease;
  /** Files to write, by path relative to the project. */
  files: Record<string, string>;
}

export function createScratchProject(pkg: PackedPackage, opts: ScratchOptions): string {
  const dir = mkdtempSync(join(pkg.scratch, `${opts.name}-`));
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: opts.name, private: true, type: opts.type }, null, 2)}\n`,
  );
  const modules = join(dir, 'node_modules');
  mkdirSync(modules);
  cpSync(pkg.dir, join(modules, 'trpc-sse'), { recursive: true });
  const trpc = opts.trpc === 'pinned' ? 'node_modules/@trpc' : 'test/fixtures/trpc-lowest/node_modules/@trpc';
  symlinkSync(join(pkg.root, trpc), join(modules, '@trpc'), 'dir');
  for (const name of ['@types', 'express', 'ioredis'])
    symlinkSync(join(pkg.root, 'node_modules', name), join(modules, name), 'dir');
  for (const [file, text] of Object.entries(opts.files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; a non-zero exit is an outcome, not an exception. */
export async function runIn(dir: string, command: string, args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(command, args, {
      cwd: dir,
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (cause) {
    const failed = cause as { code?: unknown; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? failed.message,
    };
  }
}

/** The repository's TypeScript compiler, run on the project's tsconfig.json. */
export function tsc(pkg: PackedPackage, dir: string): Promise<Outcome> {
  return runIn(dir, process.execPath, [join(pkg.root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
}

/** A tsconfig for the app: strict, and checking every declaration file it reaches. */
export function tsconfig(compilerOptions: Record<string, unknown>): string {
  const config = {
    compilerOptions: {
      target: 'ES2022',
      // What an app using @trpc/client has: tRPC's own declarations refer to DOM types (RequestInfo)
      // and default-import CommonJS modules (ws).
      lib: ['ES2022', 'DOM'],
      esModuleInterop: true,
      strict: true,
      skipLibCheck: false,
      types: ['node'],
      outDir: 'out',
      ...compilerOptions,
    },
    include: ['src'],
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
