/** Renders results/latest.{md,svg} again from results/latest.json (after a change to the report code). */
import { readFileSync, writeFileSync } from 'node:fs';
import { renderMarkdown } from './report/markdown.js';
import { renderSvg } from './report/svg.js';
import type { Results } from './results.js';

const dir = new URL('./results/', import.meta.url);
const results = JSON.parse(readFileSync(new URL('latest.json', dir), 'utf8')) as Results;
const md = renderMarkdown(results, results.params);
writeFileSync(new URL('latest.md', dir), md);
writeFileSync(new URL('latest.svg', dir), renderSvg(results, results.params));
console.log(md);
