/**
 * The published package, measured: `npx tsx scripts/package-report.ts [tarball.tgz]`.
 *
 * Without an argument it packs the current build (`npm pack --ignore-scripts`; run
 * `npm run build` first); with one it reports on that tarball, so two versions can be
 * compared. Prints markdown:
 *
 * - arethetypeswrong: how each entry point resolves in each TypeScript resolution mode;
 * - per entry point, the bytes an app's bundle pays for it (esbuild, minified, browser
 *   platform, ESM, `@trpc/*` and the other peers external; raw and gzip -9) and our modules
 *   whose code ends up in that bundle.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));

/** The entry points of package.json `exports`, by subpath. */
const ENTRIES = ['./client', './server', './express', './node', './fetch', './redis'] as const;
const MODES = ['node10', 'node16-cjs', 'node16-esm', 'bundler'] as const;

interface Resolution {
  resolution?: { fileName: string };
  implementationResolution?: { fileName: string };
}
interface AttwAnalysis {
  packageName: string;
  packageVersion: string;
  entrypoints: Record<string, { resolutions: Record<string, Resolution> }>;
  problems: Array<{ kind: string; entrypoint?: string; resolutionKind?: string }>;
  programInfo: Record<string, { moduleKinds?: Record<string, { detectedKind: number }> }>;
}

/** TypeScript's ModuleKind values attw reports for a file's detected format. */
const MODULE_KIND: Record<number, string> = { 1: 'CJS', 99: 'ESM' };

function pack(into: string): string {
  if (!existsSync(join(root, 'dist/client/index.js'))) throw new Error('No build to pack: run `npm run build` first');
  const report = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', into], {
    cwd: root,
    encoding: 'utf8',
  });
  const [packed] = JSON.parse(report) as Array<{ filename: string }>;
  if (!packed) throw new Error(`npm pack reported nothing: ${report}`);
  return join(into, packed.filename);
}

function attw(tarball: string): AttwAnalysis {
  const cli = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js');
  let output: string;
  try {
    output = execFileSync(process.execPath, [cli, tarball, '--format', 'json'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (failed) {
    // A non-zero exit means problems were found; the JSON on stdout says which.
    output = (failed as { stdout?: string }).stdout ?? '';
  }
  return (JSON.parse(output) as { analysis: AttwAnalysis }).analysis;
}

function attwCell(analysis: AttwAnalysis, entry: string, mode: string): string {
  const problems = analysis.problems.filter(
    (problem) => problem.entrypoint === entry && problem.resolutionKind === mode,
  );
  if (problems.length > 0) return `❌ ${[...new Set(problems.map((problem) => problem.kind))].join(', ')}`;
  const resolution = analysis.entrypoints[entry]?.resolutions[mode];
  const file = resolution?.resolution?.fileName;
  if (!file) return '❌ no resolution';
  const program = analysis.programInfo[mode === 'node16-cjs' || mode === 'node16-esm' ? 'node16' : mode];
  const kind = program?.moduleKinds?.[file]?.detectedKind;
  const where = file.replace(/^\/node_modules\/[^/]+\//, '');
  return `🟢${kind === undefined ? '' : ` ${MODULE_KIND[kind] ?? kind}`} \`${where}\``;
}

interface Size {
  entry: string;
  modules: string[];
  minified: number;
  gzip: number;
}

async function measure(packageDir: string, entry: string): Promise<Size> {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    exports: Record<string, { import?: string | { default: string } }>;
  };
  const target = manifest.exports[entry]?.import;
  const file = typeof target === 'string' ? target : target?.default;
  if (!file) throw new Error(`${entry} has no import condition`);
  const result = await build({
    entryPoints: [join(packageDir, file)],
    bundle: true,
    minify: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    // The app's own copies: tRPC and the optional peers. (Our Node adapters import Node
    // built-ins for types only; listing them keeps a future runtime import from failing here.)
    external: ['@trpc/*', 'express', 'ioredis', 'node:*'],
  });
  const code = result.outputFiles[0]!.contents;
  // The modules whose code is in the bundle (after tree-shaking), not every file it read.
  const [output] = Object.values(result.metafile.outputs);
  const modules = Object.entries(output?.inputs ?? {})
    .filter(([, input]) => input.bytesInOutput > 0)
    .map(([input]) => relative(join(packageDir, 'dist'), join(process.cwd(), input)))
    .filter((input) => !input.startsWith('..'))
    .map((input) => input.replace(/\.js$/, ''))
    .sort();
  return { entry, modules, minified: code.byteLength, gzip: gzipSync(code, { level: 9 }).byteLength };
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
/** `./client` → `trpc-sse/client`. */
const name = (entry: string): string => `trpc-sse/${entry.slice(2)}`;

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'trpc-sse-report-'));
  try {
    const tarball = process.argv[2] ?? pack(scratch);
    execFileSync('tar', ['-xzf', tarball, '-C', scratch]);
    const packageDir = join(scratch, 'package');
    const analysis = attw(tarball);

    const lines: string[] = [];
    lines.push(`# ${analysis.packageName} ${analysis.packageVersion}: package report`, '');
    lines.push('## arethetypeswrong', '');
    lines.push(`| | ${ENTRIES.map((entry) => `\`${entry}\``).join(' | ')} |`);
    lines.push(`|---|${ENTRIES.map(() => '---').join('|')}|`);
    for (const mode of MODES)
      lines.push(`| ${mode} | ${ENTRIES.map((entry) => attwCell(analysis, entry, mode)).join(' | ')} |`);
    const kinds = [...new Set(analysis.problems.map((problem) => problem.kind))];
    lines.push('', kinds.length === 0 ? 'No problems found.' : `Problems: ${kinds.join(', ')}.`);

    const sizes: Size[] = [];
    for (const entry of ENTRIES) sizes.push(await measure(packageDir, entry));
    lines.push('', '## Bundle cost per entry point', '');
    lines.push(
      'esbuild, minified, platform browser, ESM; `@trpc/*`, express, ioredis and `node:*` external; gzip level 9.',
      '',
    );
    lines.push('| entry point | our modules | minified | minified + gzip |', '|---|---:|---:|---:|');
    for (const size of sizes) {
      const bytes = (n: number): string => `${kb(n)} (${n} B)`;
      lines.push(
        `| \`${name(size.entry)}\` | ${size.modules.length} | ${bytes(size.minified)} | ${bytes(size.gzip)} |`,
      );
    }
    lines.push('', '## Our modules per entry point (those with code in the bundle)', '');
    for (const size of sizes) {
      lines.push(
        `- \`${name(size.entry)}\` (${size.modules.length}): ${size.modules.map((module) => `\`${module}\``).join(', ')}`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
