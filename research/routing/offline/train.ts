import {
  createFeatureBuffer,
  DENSE_SIZE,
  EMPTY_CONTEXT,
  extractFeatures,
  type PromptContext,
} from '../../../src/router/auto/features.ts';
import type { LinearRouterModel } from '../../../src/router/auto/model.ts';
import { minimizeLbfgs } from './lbfgs.ts';

/**
 * Trains the router's logistic regression. Each example carries the gain of the strong model over the weak
 * one in [-1, 1]; the soft label (1 + gain) / 2 makes sigmoid(raw) an estimate of the expected gain.
 * Full-batch L-BFGS on a convex objective: the result depends only on the data and the options.
 */

export interface TrainingExample {
  text: string;
  context?: PromptContext;
  gain: number;
  weight: number;
}

export interface TrainOptions {
  hashBits: number;
  /** L2 strength on hashed weights and on (standardised) dense weights. */
  l2Sparse: number;
  l2Dense: number;
  maxIterations: number;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  hashBits: 18,
  l2Sparse: 1e-4,
  l2Dense: 1e-4,
  maxIterations: 200,
};

/** Examples in compressed sparse rows plus a dense block, extracted once and reused across iterations. */
export interface FeatureMatrix {
  rows: number;
  hashBits: number;
  rowStart: Int32Array;
  index: Int32Array;
  value: Float64Array;
  dense: Float64Array;
}

export function buildMatrix(
  examples: readonly Pick<TrainingExample, 'text' | 'context'>[],
  hashBits: number,
): FeatureMatrix {
  const buffer = createFeatureBuffer(hashBits);
  const rowStart = new Int32Array(examples.length + 1);
  const dense = new Float64Array(examples.length * DENSE_SIZE);
  let index = new Int32Array(1 << 16);
  let value = new Float64Array(1 << 16);
  let nnz = 0;
  examples.forEach((example, r) => {
    extractFeatures(example.text, example.context ?? EMPTY_CONTEXT, buffer);
    while (nnz + buffer.count > index.length) {
      const biggerIndex = new Int32Array(index.length * 2);
      biggerIndex.set(index);
      index = biggerIndex;
      const biggerValue = new Float64Array(value.length * 2);
      biggerValue.set(value);
      value = biggerValue;
    }
    index.set(buffer.index.subarray(0, buffer.count), nnz);
    value.set(buffer.value.subarray(0, buffer.count), nnz);
    nnz += buffer.count;
    rowStart[r + 1] = nnz;
    dense.set(buffer.dense, r * DENSE_SIZE);
  });
  return {
    rows: examples.length,
    hashBits,
    rowStart,
    index: index.slice(0, nnz),
    value: value.slice(0, nnz),
    dense,
  };
}

/** The rows `selected` of a matrix, as a new matrix (for cross-validation folds). */
export function selectRows(matrix: FeatureMatrix, selected: readonly number[]): FeatureMatrix {
  let nnz = 0;
  for (const r of selected) nnz += matrix.rowStart[r + 1]! - matrix.rowStart[r]!;
  const rowStart = new Int32Array(selected.length + 1);
  const index = new Int32Array(nnz);
  const value = new Float64Array(nnz);
  const dense = new Float64Array(selected.length * DENSE_SIZE);
  let at = 0;
  selected.forEach((r, k) => {
    const from = matrix.rowStart[r]!;
    const to = matrix.rowStart[r + 1]!;
    index.set(matrix.index.subarray(from, to), at);
    value.set(matrix.value.subarray(from, to), at);
    at += to - from;
    rowStart[k + 1] = at;
    dense.set(matrix.dense.subarray(r * DENSE_SIZE, (r + 1) * DENSE_SIZE), k * DENSE_SIZE);
  });
  return { rows: selected.length, hashBits: matrix.hashBits, rowStart, index, value, dense };
}

function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

export interface TrainedWeights {
  bias: number;
  dense: Float64Array;
  sparse: Float32Array;
  iterations: number;
  loss: number;
}

export function trainLogistic(
  matrix: FeatureMatrix,
  gains: ArrayLike<number>,
  weights: ArrayLike<number>,
  options: TrainOptions,
): TrainedWeights {
  if (matrix.hashBits !== options.hashBits) throw new Error('matrix built with other hashBits');
  const S = 1 << options.hashBits;
  const D = DENSE_SIZE;
  const n = matrix.rows;

  // Standardise dense columns so that one L2 strength suits all of them; folded back into the weights below.
  const mu = new Float64Array(D);
  const sigma = new Float64Array(D);
  for (let r = 0; r < n; r++) for (let d = 0; d < D; d++) mu[d] = mu[d]! + matrix.dense[r * D + d]!;
  for (let d = 0; d < D; d++) mu[d] = mu[d]! / Math.max(n, 1);
  for (let r = 0; r < n; r++) {
    for (let d = 0; d < D; d++) {
      const diff = matrix.dense[r * D + d]! - mu[d]!;
      sigma[d] = sigma[d]! + diff * diff;
    }
  }
  for (let d = 0; d < D; d++) {
    const sd = Math.sqrt(sigma[d]! / Math.max(n, 1));
    sigma[d] = sd > 1e-9 ? sd : 1;
  }
  // Flags and one-hot bins stay as they are: standardising a rare 0/1 column would divide by a tiny spread
  // and let a handful of rows give it a large weight that L2 hardly restrains.
  for (let d = 0; d < D; d++) {
    let binary = true;
    for (let r = 0; r < n && binary; r++) {
      const x = matrix.dense[r * D + d]!;
      binary = x === 0 || x === 1;
    }
    if (binary) {
      mu[d] = 0;
      sigma[d] = 1;
    }
  }
  const z = new Float64Array(n * D);
  for (let r = 0; r < n; r++) {
    for (let d = 0; d < D; d++) z[r * D + d] = (matrix.dense[r * D + d]! - mu[d]!) / sigma[d]!;
  }

  let totalWeight = 0;
  for (let r = 0; r < n; r++) totalWeight += weights[r]!;
  const labels = new Float64Array(n);
  for (let r = 0; r < n; r++) labels[r] = (1 + gains[r]!) / 2;

  const { rowStart, index, value } = matrix;
  const objective = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    const bias = theta[S + D]!;
    for (let r = 0; r < n; r++) {
      let logit = bias;
      for (let k = rowStart[r]!; k < rowStart[r + 1]!; k++) logit += theta[index[k]!]! * value[k]!;
      const base = r * D;
      for (let d = 0; d < D; d++) logit += theta[S + d]! * z[base + d]!;
      const w = weights[r]! / totalWeight;
      loss += w * (softplus(logit) - labels[r]! * logit);
      const residual = w * (1 / (1 + Math.exp(-logit)) - labels[r]!);
      for (let k = rowStart[r]!; k < rowStart[r + 1]!; k++) {
        const j = index[k]!;
        grad[j] = grad[j]! + residual * value[k]!;
      }
      for (let d = 0; d < D; d++) grad[S + d] = grad[S + d]! + residual * z[base + d]!;
      grad[S + D] = grad[S + D]! + residual;
    }
    for (let j = 0; j < S; j++) {
      const t = theta[j]!;
      if (t !== 0) {
        loss += 0.5 * options.l2Sparse * t * t;
        grad[j] = grad[j]! + options.l2Sparse * t;
      }
    }
    for (let d = 0; d < D; d++) {
      const t = theta[S + d]!;
      loss += 0.5 * options.l2Dense * t * t;
      grad[S + d] = grad[S + d]! + options.l2Dense * t;
    }
    return loss;
  };

  const result = minimizeLbfgs(objective, new Float64Array(S + D + 1), {
    maxIterations: options.maxIterations,
    memory: 10,
    gradientTolerance: 1e-7,
  });
  const theta = result.x;
  const dense = new Float64Array(D);
  let bias = theta[S + D]!;
  for (let d = 0; d < D; d++) {
    dense[d] = theta[S + d]! / sigma[d]!;
    bias -= (theta[S + d]! * mu[d]!) / sigma[d]!;
  }
  return {
    bias,
    dense,
    sparse: Float32Array.from(theta.subarray(0, S)),
    iterations: result.iterations,
    loss: result.value,
  };
}

/** Raw (uncalibrated) outputs of trained weights on matrix rows. */
export function predictRaw(
  weights: Pick<LinearRouterModel, 'bias' | 'dense' | 'sparse'>,
  matrix: FeatureMatrix,
): Float64Array {
  const out = new Float64Array(matrix.rows);
  for (let r = 0; r < matrix.rows; r++) {
    let logit = weights.bias;
    for (let k = matrix.rowStart[r]!; k < matrix.rowStart[r + 1]!; k++) {
      logit += weights.sparse[matrix.index[k]!]! * matrix.value[k]!;
    }
    for (let d = 0; d < DENSE_SIZE; d++) logit += weights.dense[d]! * matrix.dense[r * DENSE_SIZE + d]!;
    out[r] = logit;
  }
  return out;
}
