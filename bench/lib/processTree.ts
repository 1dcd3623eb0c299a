/**
 * CPU time of a process and all its descendants, from /proc (Linux): for a store that runs as
 * several processes (PostgreSQL forks a backend per connection) or as processes the bench did
 * not fork itself (redis-server, started by the test helpers).
 *
 * A live process counts the run time of its threads from `task/<tid>/schedstat` (nanoseconds:
 * a store's share of one tick is well under the 10 ms of `stat`'s utime and stime), falling
 * back to those where the kernel keeps no schedstat. Every process also counts its children
 * already exited and reaped (`stat`'s cutime and cstime, in ticks), so a backend that ended
 * during a measurement is still counted, once.
 */
import { readdirSync, readFileSync } from 'node:fs';

const US_PER_TICK = 10_000; // USER_HZ = 100 on Linux

interface Stat {
  ppid: number;
  /** utime + stime, µs (tick resolution). */
  ownUs: number;
  /** cutime + cstime, µs. */
  reapedChildrenUs: number;
}

function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null; // exited while we listed
  }
  // After the name, which may hold spaces and parentheses: state, ppid, … utime (11), stime, cutime, cstime.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    ppid: Number(fields[1]),
    ownUs: (Number(fields[11]) + Number(fields[12])) * US_PER_TICK,
    reapedChildrenUs: (Number(fields[13]) + Number(fields[14])) * US_PER_TICK,
  };
}

/** The run time of a process's threads in µs, or null when schedstat is not there. */
function threadsRunUs(pid: number): number | null {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    }
    return Number.isFinite(ns) ? ns / 1e3 : null;
  } catch {
    return null;
  }
}

/** µs of CPU used so far by `roots` and everything below them; a root that is gone counts 0. */
export function processTreeCpuUs(roots: readonly number[]): number {
  const stats = new Map<number, Stat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) stats.set(Number(entry), stat);
  }
  const children = new Map<number, number[]>();
  for (const [pid, stat] of stats) {
    const list = children.get(stat.ppid);
    if (list) list.push(pid);
    else children.set(stat.ppid, [pid]);
  }
  let us = 0;
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const stat = stats.get(pid);
    if (!stat) continue;
    us += (threadsRunUs(pid) ?? stat.ownUs) + stat.reapedChildrenUs;
    stack.push(...(children.get(pid) ?? []));
  }
  return us;
}
