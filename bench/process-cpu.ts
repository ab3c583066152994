// CPU time of another process on this machine (a server the bench started, a database backend), read from
// /proc/<pid>/stat: Linux only, and undefined wherever it cannot be read (another machine, a process gone).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { CpuProbe } from './harness.js';

/** Clock ticks per second of /proc's times (`getconf CLK_TCK`; 100 when it cannot be asked, Linux's usual value). */
export const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15, counted after the command name). */
export function processTicks(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces or ')': the fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/**
 * CPU time a process has used, in seconds. Steadier than a rate when other work shares the cores: contention lowers
 * the rate, much less the CPU each operation costs.
 */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  const ticks = processTicks(pid);
  return ticks === undefined ? undefined : ticks / CLOCK_TICKS;
}

/** The CPU one process spends between `start()` and `seconds()`. */
export function processCpu(pid: number | undefined): CpuProbe {
  let before: number | undefined;
  return {
    async start() {
      before = processTicks(pid);
    },
    async seconds() {
      const after = processTicks(pid);
      return before === undefined || after === undefined ? undefined : +((after - before) / CLOCK_TICKS).toFixed(3);
    },
  };
}
