import { mixOf } from '../model-v2.ts';
import { minimizeLbfgs } from './lbfgs.ts';
import type { WeighedRows } from './matrix-v2.ts';

/**
 * The v2 router's subject head: a softmax regression from the words of a prompt to the category it comes
 * from (the 57 MMLU subjects, GSM8K, the 8 MT-Bench categories). Categories are labels of the training data
 * only; the router never sees one. It uses the head's probabilities to average the categories' mean gains
 * (model-v2.ts): where the per-prompt gain is a noisy 0/1 difference, the category is a clean label, and a
 * subject's mean gain is the best single predictor of a question's gain in this data (log.md).
 * Convex, full-batch L-BFGS from zero: deterministic.
 */

export interface HeadOptions {
  l2: number;
  maxIterations: number;
}

export interface TrainedHead {
  classes: number;
  headBits: number;
  /** weights[bucket * classes + c]. */
  weights: Float32Array;
  bias: Float64Array;
  iterations: number;
}

/** Sparse head inputs, one row per prompt (CSR): bucket indices and values. */
export interface HeadRows {
  rows: number;
  rowStart: Int32Array;
  index: Int32Array;
  value: Float64Array;
}

/** The word entries of weighed rows (those with a head bucket). */
export function headRows(weighed: WeighedRows): HeadRows {
  const m = weighed.matrix;
  const rowStart = new Int32Array(m.rows + 1);
  let nnz = 0;
  for (let k = 0; k < weighed.head.length; k++) if (weighed.head[k]! >= 0) nnz++;
  const index = new Int32Array(nnz);
  const value = new Float64Array(nnz);
  let at = 0;
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.rowStart[r]!; k < m.rowStart[r + 1]!; k++) {
      const h = weighed.head[k]!;
      if (h < 0) continue;
      index[at] = h;
      value[at] = m.value[k]!;
      at++;
    }
    rowStart[r + 1] = at;
  }
  return { rows: m.rows, rowStart, index, value };
}

/** Trains the head on the rows whose label is >= 0 (a class index). */
export function trainHead(
  weighed: WeighedRows,
  headBits: number,
  labels: ArrayLike<number>,
  classes: number,
  options: HeadOptions,
): TrainedHead {
  return trainHeadOnRows(headRows(weighed), headBits, labels, classes, options);
}

/** `trainHead` on inputs already gathered (learned-v5's binary word inputs, subject-head.ts). */
export function trainHeadOnRows(
  rows: HeadRows,
  headBits: number,
  labels: ArrayLike<number>,
  classes: number,
  options: HeadOptions,
): TrainedHead {
  const C = classes;
  const size = (1 << headBits) * C;
  // Rows whose category is not one of the head's classes (open prompts: the head reads quizzes only) are left out.
  const kept: number[] = [];
  for (let r = 0; r < rows.rows; r++) if (labels[r]! >= 0) kept.push(r);
  const n = kept.length;
  const z = new Float64Array(C);
  const objective = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    for (const r of kept) {
      for (let c = 0; c < C; c++) z[c] = theta[size + c]!;
      const from = rows.rowStart[r]!;
      const to = rows.rowStart[r + 1]!;
      for (let k = from; k < to; k++) {
        const base = rows.index[k]! * C;
        const v = rows.value[k]!;
        for (let c = 0; c < C; c++) z[c] = z[c]! + theta[base + c]! * v;
      }
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < C; c++) if (z[c]! > max) max = z[c]!;
      let sum = 0;
      for (let c = 0; c < C; c++) {
        const e = Math.exp(z[c]! - max);
        z[c] = e;
        sum += e;
      }
      const label = labels[r]!;
      loss -= Math.log(z[label]! / sum) / n;
      // z becomes the residual p - y, scaled by 1/n.
      for (let c = 0; c < C; c++) z[c] = (z[c]! / sum - (c === label ? 1 : 0)) / n;
      for (let k = from; k < to; k++) {
        const base = rows.index[k]! * C;
        const v = rows.value[k]!;
        for (let c = 0; c < C; c++) grad[base + c] = grad[base + c]! + z[c]! * v;
      }
      for (let c = 0; c < C; c++) grad[size + c] = grad[size + c]! + z[c]!;
    }
    const l2 = options.l2;
    for (let j = 0; j < size; j++) {
      const t = theta[j]!;
      if (t !== 0) {
        loss += 0.5 * l2 * t * t;
        grad[j] = grad[j]! + l2 * t;
      }
    }
    return loss;
  };
  const result = minimizeLbfgs(objective, new Float64Array(size + C), {
    maxIterations: options.maxIterations,
    memory: 10,
    gradientTolerance: 1e-7,
  });
  return {
    classes: C,
    headBits,
    weights: Float32Array.from(result.x.subarray(0, size)),
    bias: Float64Array.from(result.x.subarray(size)),
    iterations: result.iterations,
  };
}

/** Probability-weighted class gain of each row: sum over c of P(c | words) x gain[c]. */
export function headMix(
  head: Pick<TrainedHead, 'classes' | 'weights' | 'bias'>,
  gains: ArrayLike<number>,
  weighed: WeighedRows,
): Float64Array {
  const rows = headRows(weighed);
  const C = head.classes;
  const z = new Float64Array(C);
  const out = new Float64Array(rows.rows);
  for (let r = 0; r < rows.rows; r++)
    out[r] = mixOf(head, gains, rows.index, rows.value, rows.rowStart[r]!, rows.rowStart[r + 1]!, z);
  return out;
}
