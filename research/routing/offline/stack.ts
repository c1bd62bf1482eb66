import { ASK_SIGNALS, askSignals } from '../ask-signals.ts';
import type { DifficultyRow } from './difficulty.ts';
import { DEFAULT_PAIRS, difficultyPairs, type PairOptions } from './train-difficulty.ts';

/**
 * learned-v7's stacking layer (eleventh round): raw = a · text model's raw + Σ b_k · ask signal k
 * (ask-signals.ts), fitted pairwise on the same pairs as the text model ("a is harder than b"), on text outputs
 * the text model produced without the row's source (leave one source out), so the stacker learns how far the text
 * model's opinion carries to an unseen source. A dozen weights, fitted by Newton's method with a small L2.
 */

export interface StackWeights {
  /** Weight of the text model's raw output. */
  text: number;
  /** One weight per ask signal (ASK_SIGNAL_NAMES order). */
  signals: number[];
}

/** The stacker's inputs of each row: [text raw, ...signals]. `mask` zeroes the signals not used. */
export function stackInputs(rows: readonly DifficultyRow[], textRaw: ArrayLike<number>): Float64Array[] {
  const buf = new Float64Array(ASK_SIGNALS);
  return rows.map((r, i) => {
    askSignals(r.text, buf);
    const x = new Float64Array(ASK_SIGNALS + 1);
    x[0] = textRaw[i]!;
    x.set(buf, 1);
    return x;
  });
}

function solve(a: Float64Array[], b: Float64Array): Float64Array {
  const n = b.length;
  const m = a.map((row, i) => Float64Array.from([...row, b[i]!]));
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const piv = m[c]![c]!;
    if (Math.abs(piv) < 1e-15) continue;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / piv;
      if (f === 0) continue;
      for (let k = c; k <= n; k++) m[r]![k] = m[r]![k]! - f * m[c]![k]!;
    }
  }
  return Float64Array.from({ length: n }, (_, i) => (Math.abs(m[i]![i]!) < 1e-15 ? 0 : m[i]![n]! / m[i]![i]!));
}

/**
 * Fits the stacker on the rows `selected` (pairs as the text model's), with inputs `x` (stackInputs); `use` says
 * which inputs are used (the others keep weight 0).
 */
export function fitStack(
  rows: readonly DifficultyRow[],
  x: readonly Float64Array[],
  selected: readonly number[],
  use: readonly boolean[],
  l2 = 1e-3,
  pairs: PairOptions = DEFAULT_PAIRS,
  fixedText?: number,
): StackWeights {
  const { a, b, weight } = difficultyPairs(rows, selected, pairs);
  const cols = use.flatMap((u, k) => (u && !(k === 0 && fixedText !== undefined) ? [k] : []));
  const offset = a.map((i, p) => (fixedText ?? 0) * (x[i]![0]! - x[b[p]!]![0]!));
  const d = cols.length;
  const diffs = a.map((i, p) => Float64Array.from(cols, (k) => x[i]![k]! - x[b[p]!]![k]!));
  const y = a.map((i, p) => (rows[i]!.target > rows[b[p]!]!.target || rows[i]!.level > rows[b[p]!]!.level ? 1 : 0));
  const wsum = weight.reduce((s, w) => s + w, 0);
  let w: Float64Array = new Float64Array(d);
  for (let iter = 0; iter < 30; iter++) {
    const g = new Float64Array(d);
    const h = Array.from({ length: d }, () => new Float64Array(d));
    for (let p = 0; p < diffs.length; p++) {
      const z = diffs[p]!;
      let s = offset[p]!;
      for (let k = 0; k < d; k++) s += w[k]! * z[k]!;
      const q = 1 / (1 + Math.exp(-s));
      const c = weight[p]! / wsum;
      const r = (q - y[p]!) * c;
      const v = q * (1 - q) * c;
      for (let k = 0; k < d; k++) {
        g[k] = g[k]! + r * z[k]!;
        for (let l = 0; l < d; l++) h[k]![l] = h[k]![l]! + v * z[k]! * z[l]!;
      }
    }
    for (let k = 0; k < d; k++) {
      g[k] = g[k]! + l2 * w[k]!;
      h[k]![k] = h[k]![k]! + l2;
    }
    const step = solve(h, g);
    let moved = 0;
    const next = new Float64Array(d);
    for (let k = 0; k < d; k++) {
      next[k] = w[k]! - step[k]!;
      moved = Math.max(moved, Math.abs(step[k]!));
    }
    w = next;
    if (moved < 1e-9) break;
  }
  const full = new Array<number>(ASK_SIGNALS + 1).fill(0);
  cols.forEach((k, j) => {
    full[k] = w[j]!;
  });
  return { text: fixedText ?? full[0]!, signals: full.slice(1) };
}

export function applyStack(s: StackWeights, x: Float64Array): number {
  let z = s.text * x[0]!;
  for (let k = 0; k < s.signals.length; k++) z += s.signals[k]! * x[k + 1]!;
  return z;
}
