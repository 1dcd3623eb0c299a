/**
 * Packs the library of this repository into ./trpc-sse.tgz, which package.json installs: the
 * app gets trpc-sse exactly as `npm publish` would ship it, beside one copy of @trpc/server
 * (a `file:../..` link would resolve the library's imports from the repository's own
 * node_modules, giving the app two). The library is built first when its sources are newer
 * than its build.
 *
 * When the tarball changed, the installed copy is removed: npm does not reinstall a tarball
 * dependency whose version is unchanged, so the next `npm install` would keep the old one.
 * Prints `packed` or `unchanged`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const app = fileURLToPath(new URL('..', import.meta.url));
const repo = join(app, '..', '..');
const tarball = join(app, 'trpc-sse.tgz');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Newest modification time of a file or of anything under a directory (0 when absent). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

const sources = Math.max(
  ...['src', 'tsconfig.build.json', 'tsconfig.build.cjs.json'].map((p) => newest(join(repo, p))),
);
if (newest(join(repo, 'dist')) < sources) {
  execFileSync(npm, ['run', 'build'], { cwd: repo, stdio: ['ignore', 'inherit', 'inherit'] });
}

const destination = mkdtempSync(join(tmpdir(), 'trpc-sse-pack-'));
try {
  // The build above is the only script packing needs.
  const out = execFileSync(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', destination], {
    cwd: repo,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [{ filename }] = JSON.parse(out);
  const packed = join(destination, filename);
  if (existsSync(tarball) && sha256(tarball) === sha256(packed)) {
    console.log('unchanged');
  } else {
    copyFileSync(packed, tarball);
    rmSync(join(app, 'node_modules', 'trpc-sse'), { recursive: true, force: true });
    console.log('packed');
  }
} finally {
  rmSync(destination, { recursive: true, force: true });
}
