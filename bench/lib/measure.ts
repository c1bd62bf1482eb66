import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'undici';
import { type LoadOptions, type LoadTarget, runLoad } from './load.ts';
import { cpuSeconds } from './proc.ts';
import { percentile } from './stats.ts';

/**
 * One measurement: a bounded load run against one target, with the CPU time every process under test used
 * meanwhile. The CPU window stays open `settleMs` after the last response so work the target defers (the
 * batched usage write, late garbage collection) is charged to the requests that caused it.
 */
export type TargetName = 'direct' | 'floor' | 'gateway';
/** `load` is the bench process itself, the load generator. */
export type ProcessName = 'mock' | 'floor' | 'gateway' | 'load';

export interface Measurement {
  target: TargetName;
  concurrency: number;
  completed: number;
  errors: number;
  firstError: string | undefined;
  rps: number;
  p50: number;
  p99: number;
  ttfbP50: number;
  ttfbP99: number;
  /** CPU ms per completed request, per process under test. */
  cpuMsPerRequest: Record<ProcessName, number>;
}

export async function measure(
  target: TargetName,
  loadTarget: LoadTarget,
  pool: Pool,
  options: LoadOptions,
  pids: Record<ProcessName, number>,
  settleMs: number,
): Promise<Measurement> {
  const names = Object.keys(pids) as ProcessName[];
  const before = names.map((name) => cpuSeconds(pids[name]));
  const result = await runLoad(pool, loadTarget, options);
  await sleep(settleMs);
  const after = names.map((name) => cpuSeconds(pids[name]));
  const cpuMsPerRequest = {} as Record<ProcessName, number>;
  names.forEach((name, i) => {
    cpuMsPerRequest[name] = ((after[i]! - before[i]!) * 1000) / Math.max(1, result.completed);
  });
  return {
    target,
    concurrency: options.concurrency,
    completed: result.completed,
    errors: result.errors,
    firstError: result.firstError,
    rps: (result.completed * 1000) / result.elapsedMs,
    p50: percentile(result.totalMs, 50),
    p99: percentile(result.totalMs, 99),
    ttfbP50: percentile(result.ttfbMs, 50),
    ttfbP99: percentile(result.ttfbMs, 99),
    cpuMsPerRequest,
  };
}
