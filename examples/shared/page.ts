/**
 * An example's page: one HTML shell (styles, a favicon, the page's script) and the script
 * itself, bundled for the browser by esbuild when the server starts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface PageOptions {
  /** Where the page is served, e.g. `/` or `/feed`. */
  path: string;
  title: string;
  /** One sentence under the title (HTML). */
  intro: string;
  /** The page's script (a browser module importing `trpc-sse/client`). */
  entry: URL;
}

const styles = readFileSync(fileURLToPath(new URL('./style.css', import.meta.url)), 'utf8');

/** A small icon inline, so no page asks for `/favicon.ico`. */
export const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2346d8"/>' +
  '<path d="M7 21c4-9 8-9 9-5s5 4 9-5" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>';

const escapeHtml = (text: string): string => text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function pageHtml(page: PageOptions, scriptPath: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(page.title)}</title>
    <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
    <style>${styles}</style>
  </head>
  <body>
    <header>
      <h1>${escapeHtml(page.title)}</h1>
      <p class="intro">${page.intro}</p>
    </header>
    <main id="app"></main>
    <script type="module" src="${scriptPath}"></script>
  </body>
</html>
`;
}

/** Bundles a page script for the browser, in memory. */
export async function bundlePageScript(entry: URL): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    minify: true,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}
