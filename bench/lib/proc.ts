import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Per-process CPU time and memory from Linux's /proc, read from outside, so the measured processes run
 * unmodified (the gateway runs exactly as its CLI starts it).
 */

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds of all the process's threads (JS, GC, libuv pool, SQLite). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, i.e. 12 and 13 after "state".
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

export const cpuResolutionMs = 1000 / CLOCK_TICKS;

export interface Memory {
  /** Resident set now, MB. */
  rssMB: number;
  /** Peak resident set since start or the last resetPeak (VmHWM), MB. */
  peakMB: number;
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMB: kb('VmRSS') / 1024, peakMB: kb('VmHWM') / 1024 };
}

/** Resets VmHWM to the current RSS (Linux >= 4.0, `echo 5 > clear_refs`); false where not permitted. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** The machine's CPU time in clock ticks, all CPUs, from the first line of /proc/stat; undefined off Linux. */
export interface MachineTicks {
  total: number;
  /** Time the hypervisor ran something else while this virtual machine wanted the CPU. */
  steal: number;
}

export function machineTicks(): MachineTicks | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal [guest guest_nice, already counted in user and nice]
    const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
    return { total, steal: fields[7] ?? 0 };
  } catch {
    return undefined;
  }
}

/** Steal between two readings, as a share of the machine's CPU time then (0..1). */
export function stealShare(from: MachineTicks | undefined, to: MachineTicks | undefined): number | undefined {
  if (!from || !to || to.total <= from.total) return undefined;
  return (to.steal - from.steal) / (to.total - from.total);
}
