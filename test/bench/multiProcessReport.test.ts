/**
 * The multi-process bench's report section: a row per backend, a failed backend shown as a
 * gap with its reason (never a row of made-up figures), and figures JSON turned into null
 * (NaN on the way through IPC) shown as missing rather than as a number.
 */
import { expect, test } from 'vitest';
import { config } from '../../bench/config.js';
import { renderMultiProcessMarkdown } from '../../bench/report/multiProcess.js';
import type { MultiProcessResult } from '../../bench/scenarios/multiProcess.js';

const redis: MultiProcessResult = {
  loadAverage: 1.5,
  processes: 2,
  subscribers: 1000,
  events: 40,
  openMs: 2000,
  expected: 40_000,
  received: 39_990,
  lost: 10,
  duplicates: 0,
  errors: 0,
  errorSamples: [],
  p50Ms: 12.5,
  p99Ms: 80,
  maxMs: 120,
  perProcess: [
    { subscribers: 500, cpuUsPerDelivery: 20.5, cpuVia: 'ipc', loopBusyPct: 40, rssMB: 130 },
    { subscribers: 500, cpuUsPerDelivery: 22.25, cpuVia: 'ipc', loopBusyPct: 45, rssMB: 131 },
  ],
  balancerCpuUsPerDelivery: 5,
  storeCpuUsPerEvent: 150,
  storeCpuUsPerPublish: 60.5,
  balancedConnections: [501, 501],
  publishAckP50Ms: 1.5,
  publishAckP99Ms: 9,
  publishFailures: 2,
  publishFailureSamples: ['Redis did not take the event'],
  controlSubscribeP50Ms: 3,
  controlSubscribeP99Ms: 7,
  controlErrors: 0,
  controlErrorSamples: [],
  controlForwarded: [0, 34],
  controlUnanswered: 0,
  forwardP50Ms: 1.25,
  forwardP99Ms: 4,
  sequentialPublishesPerSec: 4619.4,
  concurrentPublishesPerSec: 9741,
  concurrentTopics: 16,
};

test('a row per backend; a failed backend is a gap with its reason; a missing figure is a dash', () => {
  // The memory row as it comes back from JSON: no directory, so no hand-over figures (null).
  const memory = {
    ...redis,
    processes: 1,
    storeCpuUsPerEvent: null,
    controlForwarded: [0],
    forwardP50Ms: null,
    forwardP99Ms: null,
  };
  const md = renderMultiProcessMarkdown(
    { memory, redis, postgres: { error: 'postgres did not start: initdb failed' } },
    config,
  );
  const rows = md.split('\n').filter((line) => line.startsWith('| '));
  // Two tables, each with a header and three rows.
  expect(rows.filter((row) => row.startsWith('| backend'))).toHaveLength(2);
  const redisRows = rows.filter((row) => row.startsWith('| Redis |'));
  expect(redisRows[0]).toBe(
    '| Redis | 500 / 500 | 12.5 | 80 | 120 | 10 of 40,000 | 20.5 / 22.3 | 40 / 45 | 5 | 150 | 1.50 |',
  );
  expect(redisRows[1]).toBe('| Redis | 1.50 / 9 | 4,619 | 9,741 (16 topics) | 60.5 | 3 / 7 | 0 / 34 | 1.25 / 4 |');
  const memoryRows = rows.filter((row) => row.startsWith('| memory log'));
  expect(memoryRows[0]).toContain('| 5 | — | 1.50 |');
  expect(memoryRows[1]).toContain('| 0 | — / — |');
  // The failed backend: dashes in every column, and the reason under the tables.
  const postgresRows = rows.filter((row) => row.startsWith('| PostgreSQL |'));
  expect(postgresRows).toHaveLength(2);
  for (const row of postgresRows) expect(row.replace('| PostgreSQL |', '')).toMatch(/^( — \|)+$/);
  expect(md).toContain('- PostgreSQL: **error**: postgres did not start: initdb failed');
  expect(md).toContain('- Redis: 2 publishes failed: `Redis did not take the event`');
  // A backend left out of the run has no row.
  expect(md).not.toContain('Redis Cluster |');
});
