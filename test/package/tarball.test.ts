/**
 * The tarball `npm pack` makes (what `npm publish` uploads): arethetypeswrong and publint find
 * nothing, every entry point resolves to the CommonJS build under `require` and to the ESM
 * build under `import` in every TypeScript resolution mode, installing it runs no script, and it
 * ships what its maps point at and nothing stale.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { describe, expect, inject, test } from 'vitest';

const pkg = inject('packedPackage');
const manifest = JSON.parse(readFileSync(join(pkg.dir, 'package.json'), 'utf8')) as {
  scripts?: Record<string, string>;
  exports: Record<string, string | Record<string, { types: string; default: string }>>;
  license: string;
  peerDependencies: Record<string, string>;
};
interface Entry {
  parentPath: string;
  name: string;
  isFile(): boolean;
}
const files = (readdirSync(pkg.dir, { recursive: true, withFileTypes: true }) as Entry[])
  .filter((entry) => entry.isFile())
  .map((entry) => relative(pkg.dir, join(entry.parentPath, entry.name)))
  .sort();

/** Entry point → its module under dist (without extension). */
const ENTRIES: Record<string, string> = {
  './client': 'client/index',
  './client/distinct': 'client/distinct/index',
  './server': 'server/index',
  './express': 'adapters/express',
  './node': 'adapters/node',
  './fetch': 'adapters/fetch',
  './redis': 'redis/index',
  './postgres': 'postgres/index',
};

interface AttwResolution {
  resolution?: { fileName: string };
  implementationResolution?: { fileName: string };
}
interface AttwReport {
  problems: Record<string, unknown>;
  analysis: { entrypoints: Record<string, { resolutions: Record<string, AttwResolution> }> };
}

describe('arethetypeswrong', () => {
  test('finds no problem, and each resolution mode gets the build of its module format', async () => {
    const cli = join(pkg.root, 'node_modules/@arethetypeswrong/cli/dist/index.js');
    // attw exits non-zero when it finds problems; the JSON says which, so read it either way.
    const output = await promisify(execFile)(process.execPath, [cli, pkg.tarball, '--format', 'json'], {
      maxBuffer: 64 * 1024 * 1024,
    }).catch((failed: unknown) => ({ stdout: (failed as { stdout?: string }).stdout ?? '' }));
    const report = JSON.parse(output.stdout) as AttwReport;
    expect(report.problems).toEqual({});

    for (const [entry, module] of Object.entries(ENTRIES)) {
      const resolutions = report.analysis.entrypoints[entry]!.resolutions;
      const typesOf = (mode: string): string | undefined => resolutions[mode]?.resolution?.fileName;
      const codeOf = (mode: string): string | undefined => resolutions[mode]?.implementationResolution?.fileName;
      const at = (path: string): string => `/node_modules/trpc-sse/dist/${path}`;
      expect(typesOf('node10'), entry).toBe(at(`cjs/${module}.d.ts`));
      expect(typesOf('node16-cjs'), entry).toBe(at(`cjs/${module}.d.ts`));
      expect(codeOf('node16-cjs'), entry).toBe(at(`cjs/${module}.js`));
      expect(typesOf('node16-esm'), entry).toBe(at(`${module}.d.ts`));
      expect(codeOf('node16-esm'), entry).toBe(at(`${module}.js`));
      expect(typesOf('bundler'), entry).toBe(at(`${module}.d.ts`));
      expect(codeOf('bundler'), entry).toBe(at(`${module}.js`));
    }
  }, 120_000);
});

test('publint (strict, suggestions included) has nothing to say', async () => {
  // `pack: false`: the folder is the unpacked tarball, so every file in it is published.
  const { messages, pkg: read } = await publint({ pkgDir: pkg.dir, pack: false, strict: true, level: 'suggestion' });
  expect(messages.map((message) => formatMessage(message, read, { color: false }) ?? message.code)).toEqual([]);
});

describe('package.json as published', () => {
  test('installing it runs no script (no prepare, preinstall, install or postinstall)', () => {
    const scripts = Object.keys(manifest.scripts ?? {});
    expect(scripts.filter((name) => ['prepare', 'preinstall', 'install', 'postinstall'].includes(name))).toEqual([]);
  });

  test('exports each entry point to an ESM build for import and a CommonJS build for require', () => {
    for (const [entry, module] of Object.entries(ENTRIES)) {
      expect(manifest.exports[entry], entry).toEqual({
        import: { types: `./dist/${module}.d.ts`, default: `./dist/${module}.js` },
        require: { types: `./dist/cjs/${module}.d.ts`, default: `./dist/cjs/${module}.js` },
      });
      for (const file of [
        `dist/${module}.js`,
        `dist/${module}.d.ts`,
        `dist/cjs/${module}.js`,
        `dist/cjs/${module}.d.ts`,
      ]) {
        expect(files, file).toContain(file);
      }
    }
    // What makes Node and TypeScript read dist/cjs as CommonJS inside a "type": "module" package.
    expect(JSON.parse(readFileSync(join(pkg.dir, 'dist/cjs/package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
  });

  test('@trpc peers are a range whose floor the suite tests', () => {
    expect(manifest.peerDependencies['@trpc/server']).toMatch(/^\^11\.\d+\.\d+$/);
    expect(manifest.peerDependencies['@trpc/client']).toBe(manifest.peerDependencies['@trpc/server']);
  });
});

describe('files', () => {
  test('an MIT LICENSE', () => {
    expect(manifest.license).toBe('MIT');
    const license = readFileSync(join(pkg.dir, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 trpc-sse contributors\n/);
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS"');
  });

  test('every source and declaration map points at files the tarball ships (so src is shipped)', () => {
    const maps = files.filter((file) => file.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(pkg.dir, map), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const target = relative(pkg.dir, resolve(pkg.dir, dirname(map), source));
        if (!existsSync(join(pkg.dir, target))) missing.push(`${map} → ${target}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test('no compiled module without its source (a stale dist)', () => {
    const stale = files
      .filter((file) => file.startsWith('dist/') && file.endsWith('.js'))
      .map((file) => file.replace(/^dist\/(cjs\/)?/, 'src/').replace(/\.js$/, '.ts'))
      .filter((source) => !files.includes(source));
    expect(stale, 'rebuild from scratch: rm -rf dist && npm run build').toEqual([]);
  });

  test('nothing but the package: no tests, fixtures, examples, benchmarks or scripts', () => {
    expect(files.filter((file) => /^(test|examples|bench|scripts|node_modules)\//.test(file))).toEqual([]);
    const documents = ['ARCHITECTURE.md', 'CHANGELOG.md', 'LICENSE', 'PROTOCOL.md', 'README.md', 'package.json'];
    expect(files.filter((file) => !/^(dist|src)\//.test(file))).toEqual(documents);
  });
});
