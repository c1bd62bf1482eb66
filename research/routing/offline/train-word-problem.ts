import {
  createWordProblemScratch,
  readWordProblem,
  WORD_PROBLEM_SIZE,
  type WordProblemHead,
} from '../../../src/router/auto/word-problem.ts';
import type { PairRow } from './dataset.ts';
import { splitFold } from './dataset.ts';
import { minimizeLbfgs } from './lbfgs.ts';

/**
 * learned-v3's word-problem head: a logistic regression on soft gain labels (1 + gain) / 2, as every other
 * part of the router, over the dense counts of word-problem.ts, fitted on GSM8K rows only (the one
 * benchmark of open word problems: MMLU's maths is multiple-choice, and MT-Bench's few maths questions are
 * left for evaluation). Columns are standardised for one L2 strength and the scaling is folded back into
 * the weights. Convex, full-batch L-BFGS from zero: deterministic.
 */

export interface WordProblemOptions {
  l2: number;
  /** Weight of the centred head in the raw output. */
  weight: number;
  maxIterations: number;
}

/** Chosen by 5-fold cross-validation on the development rows (log.md, "learned-v3"). */
export const DEFAULT_WORD_PROBLEM: WordProblemOptions = { l2: 0.1, weight: 1, maxIterations: 300 };

/** Word-problem features of each row, or undefined where the prompt is not a word problem. */
export function wordProblemFeatures(rows: readonly Pick<PairRow, 'prompt'>[]): (Float64Array | undefined)[] {
  const scratch = createWordProblemScratch();
  return rows.map((row) => (readWordProblem(row.prompt, scratch) ? Float64Array.from(scratch.features) : undefined));
}

/** Rows a head is fitted on: the selected GSM8K rows that read as word problems. */
export function headTrainingRows(
  rows: readonly Pick<PairRow, 'bench'>[],
  features: readonly (Float64Array | undefined)[],
  selected: readonly number[],
): number[] {
  return selected.filter((i) => rows[i]!.bench === 'gsm8k' && features[i] !== undefined);
}

export function fitWordProblemHead(
  rows: readonly Pick<PairRow, 'bench' | 'gain'>[],
  features: readonly (Float64Array | undefined)[],
  selected: readonly number[],
  options: WordProblemOptions = DEFAULT_WORD_PROBLEM,
): WordProblemHead {
  const train = headTrainingRows(rows, features, selected);
  const n = train.length;
  const D = WORD_PROBLEM_SIZE;
  if (n === 0) return { weights: new Float64Array(D), bias: 0, center: 0, weight: options.weight };
  const mu = new Float64Array(D);
  const sd = new Float64Array(D);
  for (const i of train) for (let d = 0; d < D; d++) mu[d] = mu[d]! + features[i]![d]! / n;
  for (const i of train) for (let d = 0; d < D; d++) sd[d] = sd[d]! + (features[i]![d]! - mu[d]!) ** 2 / n;
  for (let d = 0; d < D; d++) sd[d] = Math.sqrt(sd[d]!) > 1e-9 ? Math.sqrt(sd[d]!) : 1;
  const z = new Float64Array(n * D);
  train.forEach((i, r) => {
    for (let d = 0; d < D; d++) z[r * D + d] = (features[i]![d]! - mu[d]!) / sd[d]!;
  });
  const labels = Float64Array.from(train, (i) => (1 + rows[i]!.gain) / 2);
  const objective = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    for (let r = 0; r < n; r++) {
      let logit = theta[D]!;
      for (let d = 0; d < D; d++) logit += theta[d]! * z[r * D + d]!;
      const softplus = logit > 0 ? logit + Math.log1p(Math.exp(-logit)) : Math.log1p(Math.exp(logit));
      loss += (softplus - labels[r]! * logit) / n;
      const residual = (1 / (1 + Math.exp(-logit)) - labels[r]!) / n;
      for (let d = 0; d < D; d++) grad[d] = grad[d]! + residual * z[r * D + d]!;
      grad[D] = grad[D]! + residual;
    }
    for (let d = 0; d < D; d++) {
      loss += 0.5 * options.l2 * theta[d]! ** 2;
      grad[d] = grad[d]! + options.l2 * theta[d]!;
    }
    return loss;
  };
  const result = minimizeLbfgs(objective, new Float64Array(D + 1), {
    maxIterations: options.maxIterations,
    memory: 10,
    gradientTolerance: 1e-9,
  });
  const round9 = (x: number) => Number(x.toPrecision(9));
  const weights = Float64Array.from({ length: D }, (_, d) => round9(result.x[d]! / sd[d]!));
  let bias = result.x[D]!;
  for (let d = 0; d < D; d++) bias -= (result.x[d]! * mu[d]!) / sd[d]!;
  const head = { weights, bias: round9(bias), center: 0, weight: options.weight };
  // The center is computed from the rounded weights, as the router will apply them.
  let center = 0;
  for (const i of train) center += headOutput(head, features[i]!) / n;
  return { ...head, center: round9(center) };
}

function headOutput(head: Pick<WordProblemHead, 'weights' | 'bias'>, x: ArrayLike<number>): number {
  let z = head.bias;
  for (let d = 0; d < WORD_PROBLEM_SIZE; d++) z += head.weights[d]! * x[d]!;
  return z;
}

/**
 * What v3 adds to the open model's raw output on each of `selected` rows: the head's centred, weighted
 * output on word problems that are not multiple-choice quizzes, 0 elsewhere.
 */
export function wordProblemOffsets(
  head: WordProblemHead,
  features: readonly (Float64Array | undefined)[],
  selected: readonly number[],
): Float64Array {
  return Float64Array.from(selected, (i) => {
    const x = features[i];
    return x ? head.weight * (headOutput(head, x) - head.center) : 0;
  });
}

/** Out-of-fold offsets: each row gets the offset of the head fitted on the other folds. */
export function crossValidatedOffsets(
  rows: readonly Pick<PairRow, 'bench' | 'gain'>[],
  features: readonly (Float64Array | undefined)[],
  folds: readonly number[],
  foldCount: number,
  options: WordProblemOptions = DEFAULT_WORD_PROBLEM,
): Float64Array {
  const out = new Float64Array(rows.length);
  for (let f = 0; f < foldCount; f++) {
    const { train, test } = splitFold(folds, f);
    if (test.length === 0) continue;
    const head = fitWordProblemHead(rows, features, train, options);
    wordProblemOffsets(head, features, test).forEach((v, k) => {
      out[test[k]!] = v;
    });
  }
  return out;
}
