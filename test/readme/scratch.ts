/**
 * A scratch TypeScript project made of a Markdown document's TypeScript blocks, one module per
 * block, beside the app files the blocks import (fixtures/), type-checked by the project's
 * own `tsc` the way an app that installed trpc-sse would be: `trpc-sse/*` resolves through the
 * package's `exports` to its build in dist/.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TYPESCRIPT_LANGS, type CodeBlock } from './markdown.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
/** The app files every document directory gets; blocks import them as `./router.js` and so on. */
const FIXTURE_FILES = ['router.ts', 'messages.ts', 'auth.ts', 'fragment.ts'] as const;

/** How imports are resolved: Node's ESM rules, or a bundler's (Vite, Next.js, esbuild). */
export type Mode = 'nodenext' | 'bundler';
export const MODES: readonly Mode[] = ['nodenext', 'bundler'];
/** A tsc program of the scratch app: the blocks with one resolution, or trpc-sse's declarations. */
export type Check = Mode | 'declarations';
export const CHECKS: readonly Check[] = [...MODES, 'declarations'];

const DIRECTIVES = new Set(['fragment', 'router', 'nodenext', 'bundler', 'cjs']);

/** Names a fragment has in scope: everything fixtures/fragment.ts exports. */
const FRAGMENT_IMPORT =
  "import { appRouter, createContext, getToken, initTRPC, messagesSince, postMessage, t, tracked, TRPCError, url, z, type AppRouter, type Context, type Message } from './fragment.js';";

/** One block as a module of the scratch project. */
export interface BlockModule {
  block: CodeBlock;
  /** Path inside the project, '/'-separated. */
  file: string;
  /** The module's text: the block, wrapped when it is a fragment. */
  text: string;
  /** Lines the wrapper puts before the block's first line. */
  prefixLines: number;
  /** The resolutions the block is checked with. */
  modes: Mode[];
}

/** A file path named by a block's first line (`// app/api/trpc/[trpc]/route.ts`). */
const PATH_COMMENT = /^\/\/\s*((?:[\w.@()[\]-]+\/)*[\w.@()[\]-]+\.(?:ts|tsx|mts|cts))\s*$/;

/**
 * Turns a document's TypeScript blocks into modules under `dir`. Throws on what the harness
 * cannot honour (an unknown directive, a path outside the app), naming the line. A block
 * whose path is taken (an app fixture, or an earlier block: two alternatives for one file)
 * goes to the same path under `readme-<line>/`.
 */
export function planModules(blocks: CodeBlock[], dir: string): BlockModule[] {
  const modules: BlockModule[] = [];
  const taken = new Set<string>(FIXTURE_FILES.map((file) => posix.join(dir, file)));
  for (const block of blocks) {
    if (!TYPESCRIPT_LANGS.has(block.lang)) continue;
    const where = `line ${block.fenceLine}`;
    for (const word of block.directives) {
      if (!DIRECTIVES.has(word)) throw new Error(`${where}: unknown readme-test directive "${word}"`);
    }
    const fragment = block.directives.includes('fragment');
    if (block.directives.includes('router') && !fragment) throw new Error(`${where}: "router" qualifies "fragment"`);
    const named = fragment ? undefined : PATH_COMMENT.exec(block.code.split('\n', 1)[0] ?? '')?.[1];
    if (named?.split('/').includes('..')) throw new Error(`${where}: the path "${named}" leaves the project`);
    const cjs = block.directives.includes('cjs') || named?.endsWith('.cts') === true;
    const ext = cjs ? 'cts' : block.lang === 'tsx' ? 'tsx' : 'ts';
    let file = posix.join(dir, named ?? `readme-${block.fenceLine}.${ext}`);
    if (taken.has(file)) file = posix.join(dir, `readme-${block.fenceLine}`, named ?? '');
    taken.add(file);
    let modes: Mode[] = MODES.filter((mode) => block.directives.includes(mode));
    if (modes.length === 0) modes = [...MODES];
    // CommonJS (`import x = require(…)`, `.cts`) exists under Node's resolution only.
    if (cjs) modes = modes.filter((mode) => mode === 'nodenext');
    if (modes.length === 0) throw new Error(`${where}: "cjs" is checked with nodenext only`);
    const prefix = fragment
      ? [
          FRAGMENT_IMPORT,
          block.directives.includes('router')
            ? 'export const router = t.router({'
            : 'export async function fragment(): Promise<void> {',
        ]
      : [];
    const suffix = fragment ? [block.directives.includes('router') ? '});' : '}'] : [];
    modules.push({
      block,
      file,
      text: [...prefix, block.code, ...suffix].join('\n') + '\n',
      prefixLines: prefix.length,
      modes,
    });
  }
  return modules;
}

/** Options every check shares: the strictest a user's project may have. */
const STRICTEST = {
  target: 'ES2022',
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noImplicitOverride: true,
  noImplicitReturns: true,
  noFallthroughCasesInSwitch: true,
  noPropertyAccessFromIndexSignature: true,
  allowUnreachableCode: false,
  allowUnusedLabels: false,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  forceConsistentCasingInFileNames: true,
  // Changes nothing for the blocks (they are source); declarations get a program of their own.
  skipLibCheck: true,
  noEmit: true,
  jsx: 'react-jsx',
  // Only what an app installs on purpose; the suite's own @types (chai, …) are not the user's.
  types: ['node'],
  // Each block is a module of its own, even one without import or export.
  moduleDetection: 'force',
  // Next.js's default alias (create-next-app): `@/router` is the project's router.ts.
  paths: { '@/*': ['./*'] },
} as const;

const MODE_OPTIONS: Record<Mode, Record<string, string>> = {
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' },
};

/** The package's entries (`./client`, …), from its package.json `exports`. */
export function packageEntries(): Array<{ subpath: string; target: unknown }> {
  const { exports } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    exports: Record<string, unknown>;
  };
  return Object.entries(exports)
    .filter(([subpath]) => subpath !== './package.json' && !subpath.includes('*'))
    .map(([subpath, target]) => ({ subpath, target }));
}

/** Where an `exports` target leads under `conditions` (Node's algorithm: the first match in key order). */
export function exportTarget(entry: unknown, conditions: readonly string[]): string | undefined {
  if (typeof entry === 'string') return entry;
  if (typeof entry !== 'object' || entry === null) return undefined;
  for (const [condition, target] of Object.entries(entry)) {
    if (!conditions.includes(condition)) continue;
    const found = exportTarget(target, conditions);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** What TypeScript matches in `exports` for an ES module of a Node app. */
export const IMPORT_CONDITIONS = ['types', 'import', 'node', 'default'] as const;

/**
 * The root of the `declarations` program: every entry of the package, imported as an app
 * imports it, so that its declarations (and theirs) are checked with `skipLibCheck: false`.
 */
function declarationsModule(): string {
  const lines = packageEntries().map(
    ({ subpath }) =>
      `export type * as ${subpath.slice(2).replace(/\W+(\w)/g, (_, c: string) => c.toUpperCase())} from 'trpc-sse${subpath.slice(1)}';`,
  );
  return lines.join('\n') + '\n';
}

/** A document's modules, and the directory (inside the project) they and their fixtures live in. */
export interface ScratchDocument {
  dir: string;
  modules: BlockModule[];
}

/**
 * Writes the project at `root` (an empty directory): each document's fixtures and modules, a
 * `package.json` of an ESM app, `tsconfig.<mode>.json` per mode (`tsconfig.json` is the
 * bundler one, for tsx), `tsconfig.declarations.json` with its root module, and a
 * `node_modules` of links: the repository's dependencies, and `trpc-sse` itself as an
 * installed package.
 */
export function writeProject(root: string, documents: ScratchDocument[]): void {
  const write = (file: string, text: string): void => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  for (const { dir, modules } of documents) {
    for (const fixture of FIXTURE_FILES) {
      mkdirSync(join(root, dir), { recursive: true });
      copyFileSync(join(FIXTURES, fixture), join(root, dir, fixture));
    }
    for (const module of modules) write(module.file, module.text);
  }
  write('package.json', JSON.stringify({ name: 'readme-app', private: true, type: 'module' }, null, 2) + '\n');
  for (const mode of MODES) {
    const files = documents.flatMap(({ dir, modules }) => [
      ...FIXTURE_FILES.map((fixture) => posix.join(dir, fixture)),
      ...modules.filter((module) => module.modes.includes(mode)).map((module) => module.file),
    ]);
    const config = JSON.stringify({ compilerOptions: { ...STRICTEST, ...MODE_OPTIONS[mode] }, files }, null, 2) + '\n';
    write(`tsconfig.${mode}.json`, config);
    if (mode === 'bundler') write('tsconfig.json', config);
  }
  write('declarations.ts', declarationsModule());
  // TypeScript's own lib files are left out: they are not a dependency's, and take as long as all the rest.
  const declarations = { ...STRICTEST, ...MODE_OPTIONS.nodenext, skipLibCheck: false, skipDefaultLibCheck: true };
  write(
    'tsconfig.declarations.json',
    JSON.stringify({ compilerOptions: declarations, files: ['declarations.ts'] }, null, 2) + '\n',
  );
  const modulesDir = join(root, 'node_modules');
  mkdirSync(modulesDir);
  for (const entry of readdirSync(join(REPO_ROOT, 'node_modules'))) {
    if (entry === 'trpc-sse') continue;
    symlinkSync(join(REPO_ROOT, 'node_modules', entry), join(modulesDir, entry));
  }
  symlinkSync(REPO_ROOT, join(modulesDir, 'trpc-sse'), 'dir');
}

/** One tsc diagnostic. */
export interface Diagnostic {
  /** Project-relative, '/'-separated; null for a diagnostic without a file (options). */
  file: string | null;
  line: number;
  column: number;
  code: string;
  /** The message, with its indented continuation lines. */
  message: string;
}

/** What `tsc` said about one program. */
export interface CheckResult {
  check: Check;
  diagnostics: Diagnostic[];
  /** Every file of the program, absolute (after following links). */
  files: string[];
  exitCode: number | null;
  /** tsc's whole report, for failures the parse does not explain. */
  output: string;
}

const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const LOCATED = /^(.+)\((\d+),(\d+)\): error (TS\d+): (.*)$/;
const GLOBAL = /^error (TS\d+): (.*)$/;

/** Runs the project's tsc on `tsconfig.<check>.json` and parses its report. */
export function typecheck(root: string, check: Check): Promise<CheckResult> {
  const child = spawn(process.execPath, [TSC, '-p', `tsconfig.${check}.json`, '--pretty', 'false', '--listFiles'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve({ check, exitCode, output, ...parseTscOutput(output, root) }));
  });
}

/** Splits `tsc --pretty false --listFiles` output into diagnostics and the program's files. */
function parseTscOutput(output: string, root: string): { diagnostics: Diagnostic[]; files: string[] } {
  const diagnostics: Diagnostic[] = [];
  const files: string[] = [];
  let last: Diagnostic | undefined;
  for (const text of output.split(/\r?\n/)) {
    const located = LOCATED.exec(text);
    const global = located ? null : GLOBAL.exec(text);
    if (located) {
      const file = relative(root, join(root, located[1] ?? ''))
        .split('\\')
        .join('/');
      last = {
        file,
        line: Number(located[2]),
        column: Number(located[3]),
        code: located[4] ?? '',
        message: located[5] ?? '',
      };
      diagnostics.push(last);
    } else if (global) {
      last = { file: null, line: 0, column: 0, code: global[1] ?? '', message: global[2] ?? '' };
      diagnostics.push(last);
    } else if (last && /^\s/.test(text) && text.trim() !== '') {
      last.message += '\n' + text;
    } else if (text.startsWith('/')) {
      last = undefined;
      files.push(text.trim());
    }
  }
  return { diagnostics, files };
}

/** The document line a module's line comes from: wrapper lines point at the fences. */
function documentLine(module: BlockModule, moduleLine: number): number {
  const codeLines = module.block.code.split('\n').length;
  const index = moduleLine - 1 - module.prefixLines;
  if (index < 0) return module.block.fenceLine;
  if (index >= codeLines) return module.block.line + codeLines;
  return module.block.line + index;
}

/** A diagnostic of `module` as a reader of `document` needs it: where, what, and the line itself. */
export function formatDiagnostic(document: string, module: BlockModule, mode: Mode, diagnostic: Diagnostic): string {
  const line = documentLine(module, diagnostic.line);
  const source = module.text.split('\n')[diagnostic.line - 1] ?? '';
  return (
    `${document}:${line}:${diagnostic.column + module.block.indent} (${module.block.lang} block at line ${module.block.fenceLine}, ${mode}): ` +
    `error ${diagnostic.code}: ${diagnostic.message}\n    | ${source}`
  );
}
