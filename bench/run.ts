/**
 * `npm run bench`: every scenario against every transport, in one run. Each case forks a fresh
 * server process and a fresh client process; cases run one after another so they never share
 * the two cores. Writes results/latest.{json,md,svg} after every case (a run cut short still
 * leaves its results) and prints the markdown at the end. `BENCH_RESULTS_DIR` writes them
 * elsewhere.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { measureBundleSizes } from '../scripts/bundle-size.js';
import { BROWSER_COLUMNS } from './browser/columns.js';
import { config } from './config.js';
import { machineFacts } from './machine.js';
import { renderMarkdown } from './report/markdown.js';
import { renderSvg } from './report/svg.js';
import type { ByTransport, CaseResult, Results } from './results.js';
import { runBrowser } from './scenarios/browser.js';
import { runConnect } from './scenarios/connect.js';
import { runFanout } from './scenarios/fanout.js';
import { runHttp2 } from './scenarios/http2.js';
import { runIdlePerConnection, runIdlePerSharedSubscription } from './scenarios/idleMemory.js';
import { BACKEND_LABELS, runMultiProcess } from './scenarios/multiProcess.js';
import { runObservabilityCost } from './scenarios/observability.js';
import { runStorm } from './scenarios/storm.js';
import { runThroughput } from './scenarios/throughput.js';
import { SECURE_TRANSPORTS, TRANSPORTS } from './transports/registry.js';

const resultsDir = config.resultsDir
  ? pathToFileURL(`${resolve(config.resultsDir)}/`)
  : new URL('./results/', import.meta.url);
mkdirSync(resultsDir, { recursive: true });

const started = Date.now();
const results: Results = {
  machine: machineFacts(),
  params: config,
  startedAt: new Date(started).toISOString(),
  elapsedS: 0,
  scenarioSeconds: {},
  throughput: {},
  fanout: {},
  idle: {},
  idleShared: {},
  connect: {},
  connectWarm: {},
  storm: {},
};

function save(): string {
  results.elapsedS = (Date.now() - started) / 1000;
  const md = renderMarkdown(results, config);
  writeFileSync(new URL('latest.json', resultsDir), JSON.stringify(results, null, 1) + '\n');
  writeFileSync(new URL('latest.md', resultsDir), md);
  writeFileSync(new URL('latest.svg', resultsDir), renderSvg(results, config));
  return md;
}

const selected = TRANSPORTS.filter((t) => !config.transports || config.transports.includes(t.id));
const wanted = (scenario: string): boolean => !config.only || config.only.includes(scenario);

/** Runs one case into `into[t.id]`, unless the run is over its time budget. */
async function runCase<K extends string>(
  name: string,
  t: { id: K; label: string },
  into: Partial<Record<K, CaseResult>>,
  run: () => Promise<CaseResult>,
): Promise<void> {
  if (Date.now() - started > config.suiteBudgetMs) {
    into[t.id] = { skipped: 'run time budget exhausted' };
  } else {
    const t0 = Date.now();
    into[t.id] = await run();
    const line = JSON.stringify(into[t.id]);
    console.log(
      `[${((Date.now() - started) / 1000).toFixed(0)} s] ${name} ${t.label} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${line.length > 400 ? line.slice(0, 400) + '…' : line}`,
    );
  }
  save();
}

async function scenario(name: string, body: () => Promise<void>): Promise<void> {
  if (!wanted(name)) return;
  const t0 = Date.now();
  await body();
  results.scenarioSeconds[name] = (Date.now() - t0) / 1000;
  save();
}

console.log(`# trpc-sse bench${config.quick ? ' (quick)' : ''}: ${JSON.stringify(results.machine)}`);

// Bytes, not time: exact, the same in a quick run, and done in seconds, so it goes first.
await scenario('size', async () => {
  try {
    const size = (results.size = await measureBundleSizes());
    const added = size.scenarios
      .map((s) => `${s.id} ${s.status === 'built' ? `+${s.added.gzip} B` : s.status}`)
      .join(', ');
    console.log(`[${((Date.now() - started) / 1000).toFixed(0)} s] bundle size, added gzip: ${added}`);
  } catch (cause) {
    results.size = { error: cause instanceof Error ? cause.message : String(cause) };
    console.log(`bundle size: error: ${results.size.error}`);
  }
});

await scenario('throughput', async () => {
  for (const t of selected) await runCase('throughput', t, results.throughput, () => runThroughput(t, config));
});

await scenario('fanout', async () => {
  for (const n of config.fanoutSizes) {
    const into = (results.fanout[n] = {});
    for (const t of selected) await runCase(`fan-out ${n}`, t, into, () => runFanout(t, config, n));
  }
});

await scenario('memory', async () => {
  for (const t of selected) await runCase('idle memory', t, results.idle, () => runIdlePerConnection(t, config));
  // One connection carrying many subscriptions: trpc-sse multiplexed, and wsLink's one socket.
  for (const t of selected.filter((x) => x.id === 'mux' || x.id === 'ws')) {
    await runCase('idle memory, one connection', t, results.idleShared, () => runIdlePerSharedSubscription(t, config));
  }
});

await scenario('connect', async () => {
  for (const t of selected)
    await runCase('connect (fresh client)', t, results.connect, () => runConnect(t, config, true));
  for (const t of selected.filter((x) => x.id === 'mux' || x.id === 'ws')) {
    await runCase('connect (open connection)', t, results.connectWarm, () => runConnect(t, config, false));
  }
});

await scenario('storm', async () => {
  for (const t of selected.filter((x) => x.resumes))
    await runCase('reconnect storm', t, results.storm, () => runStorm(t, config));
});

await scenario('observability', async () => {
  results.observability = await runObservabilityCost(config, (line) =>
    console.log(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${line}`),
  );
});

await scenario('multiprocess', async () => {
  const into: NonNullable<Results['multiProcess']> = (results.multiProcess = {});
  for (const backend of config.multiProcessBackends) {
    await runCase('multi-process', { id: backend, label: BACKEND_LABELS[backend] }, into, () =>
      runMultiProcess(backend, config),
    );
  }
});

await scenario('http2', async () => {
  const into: ByTransport = (results.http2 = {});
  for (const t of SECURE_TRANSPORTS.filter((x) => !config.transports || config.transports.includes(x.id)))
    await runCase('HTTP/2', t, into, () => runHttp2(t, config));
});

await scenario('browser', async () => {
  const into: NonNullable<Results['browser']> = (results.browser = {});
  for (const column of BROWSER_COLUMNS) await runCase('browser', column, into, () => runBrowser(column, config));
});

const md = save();
console.log('\n' + md);
console.log(`written ${fileURLToPath(resultsDir)}latest.{md,json,svg} in ${results.elapsedS.toFixed(0)} s`);
