/**
 * Global setup of the `package` project: packs the built package once per run (`npm pack`,
 * exactly what `npm publish` would upload) and unpacks it, so every package test checks the
 * same tarball an app would install. Needs a current `dist` (`npm run build`; `npm test`
 * builds first).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

export interface PackedPackage {
  /** The repository root. */
  root: string;
  /** The `.tgz` that `npm pack` wrote. */
  tarball: string;
  /** The tarball unpacked (its `package/` folder). */
  dir: string;
  /** A scratch folder of this run; removed at teardown. */
  scratch: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    packedPackage: PackedPackage;
  }
}

/** Files the build must have produced; without them the tarball would be meaningless. */
const BUILT = ['dist/client/index.js', 'dist/cjs/client/index.js', 'dist/cjs/package.json'];

export default function setup(project: TestProject): () => void {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const missing = BUILT.filter((file) => !existsSync(join(root, file)));
  if (missing.length > 0)
    throw new Error(`The package tests need a build (npm run build); missing: ${missing.join(', ')}`);

  const scratch = mkdtempSync(join(tmpdir(), 'trpc-sse-package-'));
  const packDir = join(scratch, 'pack');
  mkdirSync(packDir);
  // `--ignore-scripts`: dist is already built (`prepack` would build it a second time).
  const report = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [packed] = JSON.parse(report) as Array<{ filename: string }>;
  if (!packed) throw new Error(`npm pack reported nothing: ${report}`);
  const tarball = join(packDir, packed.filename);
  execFileSync('tar', ['-xzf', tarball, '-C', packDir]);

  project.provide('packedPackage', { root, tarball, dir: join(packDir, 'package'), scratch });
  return () => rmSync(scratch, { recursive: true, force: true });
}
