/**
 * The multi-process bench reads a store's CPU from /proc over its whole process tree
 * (PostgreSQL forks a backend per connection): a descendant's CPU counts while it runs and
 * still counts once it has exited.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { expect, test } from 'vitest';
import { processTreeCpuUs } from '../../bench/lib/processTree.js';

/** A child that spends `cpuMs` of its own CPU time, says so, and exits when its stdin closes. */
const BURNER = `
const target = Number(process.argv[1]) * 1000;
while (true) { const u = process.cpuUsage(); if (u.user + u.system >= target) break; }
process.stdout.write('burnt\\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

test('a descendant’s CPU counts while it runs and after it exited', async () => {
  const before = processTreeCpuUs([process.pid]);
  const child = spawn(process.execPath, ['-e', BURNER, '300'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await once(child.stdout, 'data');
  // Alive: its threads' run time, read from its /proc entry under ours.
  expect(processTreeCpuUs([process.pid]) - before).toBeGreaterThanOrEqual(300_000);
  child.stdin.end();
  await once(child, 'exit');
  // Exited and reaped: now in our cutime, counted in 10 ms ticks (utime and stime each rounded), not lost.
  expect(processTreeCpuUs([process.pid]) - before).toBeGreaterThanOrEqual(280_000);
});

test('a process that is gone counts nothing', () => {
  // Beyond Linux's pid_max (4,194,304 at most): no such process can exist.
  expect(processTreeCpuUs([5_000_000])).toBe(0);
});
