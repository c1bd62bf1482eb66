import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { PairRow } from './dataset.ts';
import type { V2TrainingConfig } from './train-v2.ts';

/**
 * Out-of-fold v2 parts with the folds spread over worker threads (one per core, at most one per fold).
 * Each fold's fit is deterministic, so the result does not depend on the number of workers; this only
 * halves the wall time of `npm run eval:router` and `npm run train:router` on a two-core machine.
 */

export interface FoldJob {
  rows: readonly PairRow[];
  folds: readonly number[];
  assigned: readonly number[];
  classes: readonly string[];
  config: V2TrainingConfig;
}

export interface FoldResult {
  fold: number;
  test: number[];
  text: Float64Array;
  mix: Float64Array;
}

export async function crossValidatedPartsParallel(
  rows: readonly PairRow[],
  folds: readonly number[],
  foldCount: number,
  classes: readonly string[],
  config: V2TrainingConfig,
  options: { workers?: number; onFold?: (fold: number) => void } = {},
): Promise<{ text: Float64Array; mix: Float64Array }> {
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), foldCount));
  const text = new Float64Array(rows.length);
  const mix = new Float64Array(rows.length);
  const jobs = Array.from({ length: workers }, (_, w) =>
    Array.from({ length: foldCount }, (_, f) => f).filter((f) => f % workers === w),
  );
  await Promise.all(
    jobs.map(
      (assigned) =>
        new Promise<void>((resolve, reject) => {
          const job: FoldJob = { rows, folds, assigned, classes, config };
          const worker = new Worker(new URL('./fold-worker.ts', import.meta.url), { workerData: job });
          worker.on('message', (result: FoldResult) => {
            result.test.forEach((i, k) => {
              text[i] = result.text[k]!;
              mix[i] = result.mix[k]!;
            });
            options.onFold?.(result.fold);
          });
          worker.on('error', reject);
          worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`fold worker exited with ${code}`))));
        }),
    ),
  );
  return { text, mix };
}
