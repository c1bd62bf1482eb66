/**
 * Development-CV study (seventh round, log.md): can learned-v1's model plus a subject head on
 * quizzes reach learned-v3's MMLU figure without v3's tf-idf text model (the costly part of its quiz path)?
 *
 * Development rows only (the lockbox is left out), 5 folds, fold seed 3, as every v2/v3 decision was made.
 * Per fold: v1's out-of-fold raw output, and a subject head (train-head.ts, v2's settings) trained on the
 * other folds' quizzes with two kinds of input: v2's tf-idf values, or "binary" (each of the first 64
 * distinct words of a quiz weighs 1 / sqrt(their number)), each also pruned to the 8 or 4 largest weights
 * per word bucket. Prints MMLU APGR (per fold, averaged) of each head alone and of v1 + w x head on quizzes.
 * Not part of the product: `node research/routing/dev-cv-subject-head.ts` (about 12 minutes on one core).
 */
import { mixOf } from './model-v2.ts';
import { assignFolds, defaultDataDir, loadPairs, lockboxMask, splitFold } from './offline/dataset.ts';
import { foldAveragedApgr } from './offline/evaluate-pairs.ts';
import { idfFromLevels, idfLevels, weighRows } from './offline/matrix-v2.ts';
import { headRows, trainHead } from './offline/train-head.ts';
import { crossValidatedRaw, matrixOf } from './offline/train-router.ts';
import { categoriesOf, countMatrixOf, DEFAULT_V2_TRAINING, openTrainingConfig } from './offline/train-router-v2.ts';
import { categoryOf, classGains } from './offline/train-v2.ts';

const FOLDS = 5;
const WEIGHTS = [1, 2, 3, 4, 6, 8];
const all = loadPairs(defaultDataDir()).rows;
const lockbox = lockboxMask(all);
const rows = all.filter((_, i) => !lockbox[i]);
const config = DEFAULT_V2_TRAINING;
const folds = assignFolds(rows, FOLDS, 3);
const classes = categoriesOf(rows, config.features);
const C = classes.length;
const classIndex = new Map(classes.map((c, k) => [c, k]));
const matrix = countMatrixOf(rows, config);

const v1Raw = crossValidatedRaw(matrixOf(rows, config.open.hashBits), rows, folds, FOLDS, openTrainingConfig(config));
console.error('v1 out-of-fold raws done');

/** The `keep` largest |weights| of each bucket's row, the rest zero. */
function pruned(weights: Float32Array, keep: number): Float32Array {
  const out = new Float32Array(weights.length);
  const order = Array.from({ length: C }, (_, c) => c);
  for (let base = 0; base < weights.length; base += C) {
    order.sort((x, y) => Math.abs(weights[base + y]!) - Math.abs(weights[base + x]!));
    for (let j = 0; j < keep; j++) out[base + order[j]!] = weights[base + order[j]!]!;
  }
  return out;
}

const variants = ['full', 'top8', 'top4'] as const;
const mixes = new Map<string, Float64Array>();
for (const input of ['tfidf', 'binary'] as const) {
  for (const v of variants) mixes.set(`${input}/${v}`, new Float64Array(rows.length));
  for (let f = 0; f < FOLDS; f++) {
    const { train, test } = splitFold(folds, f);
    const idf = idfFromLevels(idfLevels(matrix, train));
    const inputs = (selected: number[]) => {
      const weighed = weighRows(matrix, selected, idf);
      if (input === 'binary') {
        const m = weighed.matrix;
        for (let r = 0; r < m.rows; r++) {
          let words = 0;
          for (let k = m.rowStart[r]!; k < m.rowStart[r + 1]!; k++) if (weighed.head[k]! >= 0) words++;
          for (let k = m.rowStart[r]!; k < m.rowStart[r + 1]!; k++)
            if (weighed.head[k]! >= 0) m.value[k] = 1 / Math.sqrt(words);
        }
      }
      return weighed;
    };
    const labels = train.map((i) => (matrix.choice[i] ? (classIndex.get(categoryOf(rows[i]!)) ?? -1) : -1));
    const head = trainHead(inputs(train), config.features.headBits, labels, C, config.head);
    const gains = classGains(rows, train, classes, config.categoryPrior);
    const held = headRows(inputs(test));
    const z = new Float64Array(C);
    const weightsOf = { full: head.weights, top8: pruned(head.weights, 8), top4: pruned(head.weights, 4) };
    for (const v of variants) {
      const out = mixes.get(`${input}/${v}`)!;
      const weights = weightsOf[v];
      test.forEach((i, k) => {
        if (!matrix.choice[i]) return;
        out[i] = mixOf(
          { classes: C, weights, bias: head.bias },
          gains,
          held.index,
          held.value,
          held.rowStart[k]!,
          held.rowStart[k + 1]!,
          z,
        );
      });
    }
    console.error(`${input} head, fold ${f + 1}/${FOLDS}`);
  }
}

function mmluApgr(score: (i: number) => number): string {
  return foldAveragedApgr(rows, folds, FOLDS, 'mmlu', score).toFixed(4);
}

console.log(`MMLU APGR, development CV (${FOLDS} folds, seed 3, ${rows.length} rows)`);
console.log(`learned-v1 alone: ${mmluApgr((i) => v1Raw[i]!)}`);
console.log(['head'.padEnd(14), 'alone ', ...WEIGHTS.map((w) => `v1+${w}x  `)].join(' '));
for (const [name, mix] of mixes) {
  const cells = [mmluApgr((i) => mix[i]!), ...WEIGHTS.map((w) => mmluApgr((i) => v1Raw[i]! + w * mix[i]!))];
  console.log([name.padEnd(14), ...cells].join(' '));
}
