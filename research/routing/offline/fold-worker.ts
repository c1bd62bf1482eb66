/** Worker thread of parallel-folds.ts: fits and predicts its assigned folds, posting each result. */
import { parentPort, workerData } from 'node:worker_threads';
import { splitFold } from './dataset.ts';
import { buildCountMatrix } from './matrix-v2.ts';
import type { FoldJob, FoldResult } from './parallel-folds.ts';
import { fitV2, predictParts } from './train-v2.ts';

const job = workerData as FoldJob;
const matrix = buildCountMatrix(
  job.rows.map((r) => ({ text: r.prompt })),
  job.config.features,
);
for (const fold of job.assigned) {
  const { train, test } = splitFold(job.folds, fold);
  if (test.length === 0) continue;
  const fitted = fitV2(matrix, job.rows, train, job.classes, job.config);
  const predicted = predictParts(fitted, matrix, test);
  const result: FoldResult = { fold, test, text: predicted.text, mix: predicted.mix };
  parentPort!.postMessage(result);
}
