/**
 * What the client costs a browser app, from the packed package (scripts/bundle-size.ts): every
 * app builds, none pulls in a Node built-in, the distinct-only entry (once exported) is
 * smaller than the default client, and the default client stays within its gzip budget. Sizes
 * are a pure function of the code and the tool versions, so the budget is exact.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, test } from 'vitest';
import {
  type BundleSizeReport,
  DEFAULT_CLIENT_ADDED_GZIP_BUDGET,
  type ScenarioId,
  type ScenarioResult,
  measureBundleSizes,
} from '../../scripts/bundle-size.js';

const pkg = inject('packedPackage');
const exported = Object.keys(
  (JSON.parse(readFileSync(join(pkg.dir, 'package.json'), 'utf8')) as { exports: object }).exports,
);
const distinctExported = exported.includes('./client/distinct');

let report: BundleSizeReport;
beforeAll(async () => {
  report = await measureBundleSizes({ packageDir: pkg.dir });
});

function built(id: ScenarioId): Extract<ScenarioResult, { status: 'built' }> {
  const scenario = report.scenarios.find((candidate) => candidate.id === id);
  expect(scenario, id).toBeDefined();
  if (scenario!.status !== 'built') throw new Error(`${id} was not measured: ${scenario!.status}: ${scenario!.reason}`);
  return scenario!;
}

describe('bundle size', () => {
  test('every app builds, and every link adds code to the baseline', () => {
    const expected: ScenarioId[] = ['baseline', 'default', 'shortForm', 'wsLink', 'httpSubscriptionLink'];
    if (distinctExported) expected.push('distinctOnly');
    for (const id of expected) built(id);
    for (const id of expected.filter((id) => id !== 'baseline'))
      expect(built(id).added.minified, id).toBeGreaterThan(0);
    if (!distinctExported)
      expect(report.scenarios.find((scenario) => scenario.id === 'distinctOnly')?.status).toBe('not built');
  });

  test("the default client's bundle carries our client and imports no Node built-in", () => {
    expect(built('default').nodeImports).toEqual([]);
    expect(built('shortForm').nodeImports).toEqual([]);
    if (distinctExported) expect(built('distinctOnly').nodeImports).toEqual([]);
    // The measurement is of our code: tree-shaking kept the link and the client.
    const files = report.contributors.ours.map((contributor) => contributor.file);
    expect(files).toContain('dist/client/sseLink.js');
    expect(files.some((file) => file.includes('createSSEClient'))).toBe(true);
  });

  test('the distinct-only client, once exported, is strictly smaller than the default', () => {
    const distinct = report.scenarios.find((scenario) => scenario.id === 'distinctOnly');
    if (!distinctExported) {
      expect(distinct?.status).toBe('not built');
      return;
    }
    const defaults = built('default');
    const only = built('distinctOnly');
    expect(only.bytes.minified).toBeLessThan(defaults.bytes.minified);
    expect(only.bytes.gzip).toBeLessThan(defaults.bytes.gzip);
  });

  test(`the default client adds at most ${DEFAULT_CLIENT_ADDED_GZIP_BUDGET} B gzip (the regression budget)`, () => {
    const added = built('default').added.gzip;
    expect(added, `sseLink + createSSEClient add ${added} B gzip`).toBeLessThanOrEqual(
      DEFAULT_CLIENT_ADDED_GZIP_BUDGET,
    );
    expect(report.budget.verdict).toBe('within');
  });
});
