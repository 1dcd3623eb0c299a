/**
 * The page's script, bundled for the browser with esbuild in memory. trpc-sse comes from its
 * build (`dist/`, as an application gets it; `npm run bench` builds it first), tRPC from
 * node_modules; minified as an app would ship it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundlePage as bundle } from '../../test/helpers/browser.js';

export function bundlePage(): Promise<string> {
  const client = fileURLToPath(new URL('../../dist/client/index.js', import.meta.url));
  if (!existsSync(client)) throw new Error(`${client} is missing: run npm run build`);
  return bundle(new URL('./page.ts', import.meta.url), { alias: { 'trpc-sse/client': client }, minify: true });
}
