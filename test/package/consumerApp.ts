/**
 * Shared by the package tests: consumer/app.ts compiled in a scratch project, and what it
 * must print when it runs.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { PackedPackage } from './packSetup.js';
import { createScratchProject, tsc, tsconfig, type Outcome, type TrpcRelease } from './scratch.js';

/** Compiling with tsc and running a server and two clients may take a while on a busy machine. */
export const SLOW = 180_000;

/** The text of a file under consumer/. */
export function consumerSource(file: string): string {
  return readFileSync(new URL(`./consumer/${file}`, import.meta.url), 'utf8');
}

export const TICKS = [
  { id: '1', data: { n: 1 } },
  { id: '2', data: { n: 2 } },
];
const FEED_AFTER_FIRST = [{ data: { n: 2 } }, { data: { n: 3 } }];

export function parsed<T>(outcome: Outcome, what: string): T {
  expect(outcome.code, `${what} failed:\n${outcome.stderr}\n${outcome.stdout}`).toBe(0);
  return JSON.parse(outcome.stdout) as T;
}

interface AppResult {
  notFunctions: string[];
  resetIsReset: boolean;
  modes: Record<string, { mode: string; ticks: unknown[]; feed: Array<{ id: string; data: unknown }> }>;
}

/** What consumer/app.ts must print, whichever module format it was compiled to. */
export function expectAppResult(result: AppResult): void {
  expect(result.notFunctions).toEqual([]);
  expect(result.resetIsReset).toBe(true);
  for (const [key, mode] of [
    ['multiplexed', 'multiplexed'],
    ['distinct', 'distinct'],
    ['distinct entry', 'distinct'],
  ] as const) {
    const received = result.modes[key]!;
    expect(received.mode, key).toBe(mode);
    expect(received.ticks, key).toEqual(TICKS);
    expect(received.feed, key).toMatchObject(FEED_AFTER_FIRST);
    for (const event of received.feed) expect(typeof event.id, key).toBe('string');
  }
}

/** consumer/app.ts in a TypeScript project of the given package type and compiler options. */
export async function compileApp(
  pkg: PackedPackage,
  name: string,
  type: 'commonjs' | 'module',
  trpc: TrpcRelease,
  compilerOptions: Record<string, unknown>,
): Promise<{ dir: string; compiled: Outcome }> {
  const dir = createScratchProject(pkg, {
    name,
    type,
    trpc,
    files: { 'tsconfig.json': tsconfig(compilerOptions), 'src/app.ts': consumerSource('app.ts') },
  });
  return { dir, compiled: await tsc(pkg, dir) };
}

/**
 * Errors tsc reports inside other packages' declarations (checked because `skipLibCheck` is
 * off), which no change of ours can fix. Each is matched narrowly; anything else fails.
 */
const UPSTREAM_ERRORS: RegExp[] = [
  // @trpc/server's ws adapter types (reached through @trpc/client's wsLink types) use
  // `ws.WebSocket` on the default import of "ws"; the ESM declarations of @types/ws 8.18 have no
  // such namespace member. CommonJS resolution reads @types/ws's index.d.ts and is unaffected.
  /\/@trpc\/server\/dist\/adapters\/ws\.d\.mts\(\d+,\d+\): error TS2694: Namespace 'WebSocket' has no exported member 'WebSocket(Server)?'\.$/,
];

/** tsc reported no error but the known upstream ones (and, without any, exited 0). */
export function expectCompiled(compiled: Outcome): void {
  const output = `${compiled.stdout}${compiled.stderr}`;
  const errors = output.split('\n').filter((line) => /error TS\d+/.test(line));
  expect(
    errors.filter((line) => !UPSTREAM_ERRORS.some((known) => known.test(line))),
    output,
  ).toEqual([]);
  if (errors.length === 0) expect(compiled.code, output).toBe(0);
}

/** Compiled and run, with every declaration file checked (`skipLibCheck: false`). */
export const NODENEXT = { module: 'nodenext', moduleResolution: 'nodenext' };
/**
 * Type-checked only, for how these resolution modes find the package's types and whether the
 * app's code types against them; the declaration files themselves are checked by the nodenext
 * builds (which resolve the same files), so these skip that cost.
 */
export const BUNDLER = { module: 'preserve', moduleResolution: 'bundler', noEmit: true, skipLibCheck: true };
export const NODE10 = { module: 'commonjs', moduleResolution: 'node10', noEmit: true, skipLibCheck: true };
