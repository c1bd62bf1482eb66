import type { Preset } from '../../../src/core/tiers.ts';
import { ASSET_FORMAT, type RouterAsset } from '../../../src/router/auto/asset.ts';
import { DENSE_NAMES, FEATURE_VERSION, READ_CHARS } from '../../../src/router/auto/features.ts';
import { PRESET_SHARES, type TierShares } from '../../../src/router/auto/thresholds.ts';
import { encodeSparse, thresholdsFromShares } from './asset-writer.ts';
import { type DifficultyRow, difficultyFold } from './difficulty.ts';
import { buildMatrix, type FeatureMatrix, predictRaw, selectRows, type TrainOptions, trainLogistic } from './train.ts';
import { calibrationKnots } from './train-router.ts';

/**
 * learned-v6 (issue 22): the same hashed-feature linear model as learned-v1 (features.ts), trained on
 * difficulty-labelled prompts instead of RouteLLM's strong-beats-weak pairs. The shipped objective is pairwise
 * (`fitDifficultyPairwise`): which of two prompts is harder. The pointwise fit (`fitDifficulty`: the row's target
 * on the shared scale as a soft label, each source weighing the same) is kept for comparison; it learns each
 * source's mean and so ranks prompts of unseen sources worse (log.md).
 */

const LOG_CHARS = DENSE_NAMES.indexOf('log_chars');

export interface DifficultyTrainingConfig {
  train: TrainOptions;
  /** Total weight of each source; sources not listed weigh 1. */
  sourceWeights: Record<string, number>;
  calibrationFolds: number;
  /**
   * Added to the fitted weight of log_chars: prompt length ranks prompts within a source better than the
   * pairwise fit alone does (FollowBench, MATH held out), at some cost across sources (log.md, round 9).
   */
  lengthWeight: number;
}

export const DEFAULT_DIFFICULTY_TRAINING: DifficultyTrainingConfig = {
  train: { hashBits: 16, l2Sparse: 3e-3, l2Dense: 1e-4, maxIterations: 150 },
  sourceWeights: { 'arena-hard-v0.1': 0.4, 'arena-hard-v2.0': 0.6 },
  calibrationFolds: 5,
  lengthWeight: 0.5,
};

/** The presets' shares of the reference mix (thresholds.ts PRESET_SHARES: the shipped chooser's). */
export const V6_PRESET_SHARES: Readonly<Record<Preset, TierShares>> = PRESET_SHARES;

export function difficultyMatrix(rows: readonly DifficultyRow[], hashBits: number): FeatureMatrix {
  return buildMatrix(
    rows.map((r) => ({ text: r.text })),
    hashBits,
  );
}

export function rowWeights(rows: readonly DifficultyRow[], config: DifficultyTrainingConfig): Float64Array {
  const count = new Map<string, number>();
  for (const r of rows) count.set(r.source, (count.get(r.source) ?? 0) + 1);
  return Float64Array.from(rows, (r) => (config.sourceWeights[r.source] ?? 1) / count.get(r.source)!);
}

export function fitDifficulty(
  matrix: FeatureMatrix,
  rows: readonly DifficultyRow[],
  selected: readonly number[],
  config: DifficultyTrainingConfig,
) {
  const chosen = selected.map((i) => rows[i]!);
  const weights = rowWeights(chosen, config);
  return trainLogistic(
    selectRows(matrix, selected),
    chosen.map((r) => 2 * r.target - 1),
    weights,
    config.train,
  );
}

/** Raw outputs of each row from a model that never saw that row's source (leave one source out). */
export function leaveOneSourceOutRaw(
  matrix: FeatureMatrix,
  rows: readonly DifficultyRow[],
  config: DifficultyTrainingConfig,
  sources: readonly string[],
  onSource?: (source: string) => void,
): Float64Array {
  const raw = new Float64Array(rows.length).fill(Number.NaN);
  for (const source of sources) {
    const train: number[] = [];
    const test: number[] = [];
    rows.forEach((r, i) => {
      (r.source === source ? test : train).push(i);
    });
    const w = fitDifficulty(matrix, rows, train, config);
    const p = predictRaw(w, selectRows(matrix, test));
    test.forEach((i, k) => {
      raw[i] = p[k]!;
    });
    onSource?.(source);
  }
  return raw;
}

/**
 * Trains the pairwise model on all `rows`; the calibration curve is the CDF of 5-fold out-of-fold outputs with
 * each source (Arena-Hard's two versions as one) weighing the same: the reference mix the preset shares read on.
 */
export function trainDifficultyRouter(
  rows: readonly DifficultyRow[],
  config: DifficultyTrainingConfig,
  provenance: Record<string, unknown>,
  log: (line: string) => void = () => {},
): { asset: RouterAsset; calibrationRaw: Float64Array } {
  const matrix = difficultyMatrix(rows, config.train.hashBits);
  const folds = rows.map((r) => difficultyFold(r, config.calibrationFolds));
  const calibrationRaw = new Float64Array(rows.length);
  for (let f = 0; f < config.calibrationFolds; f++) {
    const train: number[] = [];
    const test: number[] = [];
    folds.forEach((g, i) => {
      (g === f ? test : train).push(i);
    });
    const w = fitDifficultyPairwise(matrix, rows, train, config);
    const p = predictRaw(w, selectRows(matrix, test));
    test.forEach((i, k) => {
      calibrationRaw[i] = p[k]!;
    });
    log(`calibration fold ${f + 1}/${config.calibrationFolds} trained`);
  }
  const all = rows.map((_, i) => i);
  const weights = fitDifficultyPairwise(matrix, rows, all, config);
  log(`final model: ${weights.iterations} L-BFGS iterations, loss ${weights.loss.toFixed(6)}`);
  // Arena-Hard's two versions are one source in the reference mix, as in training.
  const groups = rows.map((r) => (r.source.startsWith('arena-hard') ? 'arena-hard' : r.source));
  const asset: RouterAsset = {
    format: ASSET_FORMAT,
    name: 'learned-v6',
    featureVersion: FEATURE_VERSION,
    readChars: READ_CHARS,
    hashBits: config.train.hashBits,
    bias: Number(weights.bias.toPrecision(9)),
    dense: Array.from(weights.dense, (w) => Number(w.toPrecision(9))),
    sparse: encodeSparse(weights.sparse),
    calibration: calibrationKnots(calibrationRaw, groups),
    presetShares: { ...V6_PRESET_SHARES },
    thresholds: thresholdsFromShares(V6_PRESET_SHARES),
    training: {
      ...provenance,
      rows: rows.length,
      config,
      pairs: DEFAULT_PAIRS,
      label: 'pairwise: a harder than b (level within a source; easy vs any, Arena-Hard vs target <= 0.5 across)',
    },
  };
  return { asset, calibrationRaw };
}

/**
 * Pairwise training (learned-v6's objective): a logistic model of "prompt a is harder than prompt b" on the
 * difference of their features, so a source's style (shared by both prompts of a within-source pair) cancels
 * out. Pairs: within each source, two rows of different levels; across sources, only where the order is not in
 * doubt (an easy prompt written here against anything else; Arena-Hard against any row whose target is at most
 * 0.5). Deterministic (seeded).
 */
export interface PairOptions {
  perSource: number;
  crossSource: number;
  seed: number;
}

export const DEFAULT_PAIRS: PairOptions = { perSource: 6000, crossSource: 12000, seed: 11 };

export function difficultyPairs(
  rows: readonly DifficultyRow[],
  selected: readonly number[],
  options: PairOptions,
): { a: number[]; b: number[]; weight: number[] } {
  let state = options.seed >>> 0;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const pickFrom = (xs: readonly number[]) => xs[Math.floor(random() * xs.length)]!;
  const a: number[] = [];
  const b: number[] = [];
  const weight: number[] = [];
  const bySource = new Map<string, number[]>();
  for (const i of selected) {
    const s = rows[i]!.source.startsWith('arena-hard') ? 'arena-hard' : rows[i]!.source;
    bySource.set(s, [...(bySource.get(s) ?? []), i]);
  }
  const push = (hard: number, easy: number, w: number) => {
    // Random orientation, so the label is balanced and the bias stays near zero.
    if (random() < 0.5) {
      a.push(hard);
      b.push(easy);
    } else {
      a.push(easy);
      b.push(hard);
    }
    weight.push(w);
  };
  for (const members of bySource.values()) {
    const levels = new Set(members.map((i) => rows[i]!.level));
    if (levels.size < 2) continue;
    let made = 0;
    for (let guard = 0; made < options.perSource && guard < options.perSource * 20; guard++) {
      const i = pickFrom(members);
      const j = pickFrom(members);
      const li = rows[i]!.level;
      const lj = rows[j]!.level;
      if (li === lj) continue;
      push(li > lj ? i : j, li > lj ? j : i, 1 / options.perSource);
      made++;
    }
  }
  const easy = bySource.get('easy') ?? [];
  const arena = bySource.get('arena-hard') ?? [];
  const others = selected.filter((i) => rows[i]!.source !== 'easy');
  const lowOthers = selected.filter((i) => !rows[i]!.source.startsWith('arena-hard') && rows[i]!.target <= 0.5);
  const half = Math.floor(options.crossSource / 2);
  if (easy.length > 0 && others.length > 0)
    for (let k = 0; k < half; k++) push(pickFrom(others), pickFrom(easy), 1 / half);
  if (arena.length > 0 && lowOthers.length > 0)
    for (let k = 0; k < half; k++) push(pickFrom(arena), pickFrom(lowOthers), 1 / half);
  return { a, b, weight };
}

/** The matrix of feature differences (row a minus row b) of each pair. */
export function pairMatrix(matrix: FeatureMatrix, a: readonly number[], b: readonly number[]): FeatureMatrix {
  const D = matrix.dense.length / Math.max(matrix.rows, 1);
  let nnz = 0;
  for (let p = 0; p < a.length; p++) {
    nnz +=
      matrix.rowStart[a[p]! + 1]! - matrix.rowStart[a[p]!]! + matrix.rowStart[b[p]! + 1]! - matrix.rowStart[b[p]!]!;
  }
  const rowStart = new Int32Array(a.length + 1);
  const index = new Int32Array(nnz);
  const value = new Float64Array(nnz);
  const dense = new Float64Array(a.length * D);
  let at = 0;
  for (let p = 0; p < a.length; p++) {
    for (const [r, sign] of [
      [a[p]!, 1],
      [b[p]!, -1],
    ] as const) {
      for (let k = matrix.rowStart[r]!; k < matrix.rowStart[r + 1]!; k++) {
        index[at] = matrix.index[k]!;
        value[at] = sign * matrix.value[k]!;
        at++;
      }
      for (let d = 0; d < D; d++) dense[p * D + d] = dense[p * D + d]! + sign * matrix.dense[r * D + d]!;
    }
    rowStart[p + 1] = at;
  }
  return { rows: a.length, hashBits: matrix.hashBits, rowStart, index, value, dense };
}

/** Fits the pairwise model on the rows `selected`. */
export function fitDifficultyPairwise(
  matrix: FeatureMatrix,
  rows: readonly DifficultyRow[],
  selected: readonly number[],
  config: DifficultyTrainingConfig,
  pairs: PairOptions = DEFAULT_PAIRS,
) {
  const { a, b, weight } = difficultyPairs(rows, selected, pairs);
  const m = pairMatrix(matrix, a, b);
  const gains = a.map((i, p) =>
    rows[i]!.target > rows[b[p]!]!.target || rows[i]!.level > rows[b[p]!]!.level ? 1 : -1,
  );
  // A within-source pair is ordered by level; rows of one source share the target scale, so target order agrees.
  const fitted = trainLogistic(m, gains, weight, config.train);
  fitted.dense[LOG_CHARS] = fitted.dense[LOG_CHARS]! + config.lengthWeight;
  return fitted;
}

/** leaveOneSourceOutRaw for the pairwise model (Arena-Hard's two versions are held out together). */
export function leaveOneSourceOutPairwise(
  matrix: FeatureMatrix,
  rows: readonly DifficultyRow[],
  config: DifficultyTrainingConfig,
  sources: readonly string[],
  onSource?: (source: string) => void,
  pairs: PairOptions = DEFAULT_PAIRS,
): Float64Array {
  const raw = new Float64Array(rows.length).fill(Number.NaN);
  const group = (s: string) => (s.startsWith('arena-hard') ? 'arena-hard' : s);
  for (const source of [...new Set(sources.map(group))]) {
    const train: number[] = [];
    const test: number[] = [];
    rows.forEach((r, i) => {
      (group(r.source) === source ? test : train).push(i);
    });
    const w = fitDifficultyPairwise(matrix, rows, train, config, pairs);
    const p = predictRaw(w, selectRows(matrix, test));
    test.forEach((i, k) => {
      raw[i] = p[k]!;
    });
    onSource?.(source);
  }
  return raw;
}
