import type { Preset } from '../../../src/core/tiers.ts';
import { ASSET_FORMAT, type RouterAsset } from '../../../src/router/auto/asset.ts';
import { FEATURE_VERSION, READ_CHARS } from '../../../src/router/auto/features.ts';
import type { TierShares } from '../../../src/router/auto/thresholds.ts';
import { encodeSparse, thresholdsFromShares, wordProblemHeadToAsset } from './asset-writer.ts';
import { type Bench, foldOf, type PairRow, splitFold } from './dataset.ts';
import { buildMatrix, type FeatureMatrix, predictRaw, selectRows, type TrainOptions, trainLogistic } from './train.ts';
import {
  crossValidatedSubjectOffsets,
  fitSubjectHead,
  type SubjectHeadOptions,
  subjectHeadData,
} from './train-subject-head.ts';
import {
  crossValidatedOffsets,
  fitWordProblemHead,
  type WordProblemOptions,
  wordProblemFeatures,
} from './train-word-problem.ts';

/**
 * From RouteLLM pairs to a weights asset: cross-validated raw outputs give the calibration curve (how raw
 * outputs spread on prompts the model has not seen), then one model is trained on all rows.
 */

/** The presets' shares learned-v1 to v5 were written with (before issue 22 changed the shipped ones). */
export const LEGACY_PRESET_SHARES: Readonly<Record<Preset, TierShares>> = Object.freeze({
  cheapest: { utilityShare: 0.5, deepShare: 0.1 },
  balanced: { utilityShare: 0.3, deepShare: 0.25 },
  quality: { utilityShare: 0.1, deepShare: 0.5 },
});

export interface RouterTrainingConfig {
  train: TrainOptions;
  /**
   * Row weights per benchmark. MT-Bench's 72 open questions are the closest to chat traffic but are
   * swamped by 14,000 MMLU rows at weight 1, so they count more.
   */
  benchWeights: Record<Bench, number>;
  /** Folds used for the calibration curve. */
  calibrationFolds: number;
  seed: number;
}

export const DEFAULT_ROUTER_TRAINING: RouterTrainingConfig = {
  train: { hashBits: 16, l2Sparse: 3e-4, l2Dense: 3e-4, maxIterations: 150 },
  benchWeights: { mmlu: 1, gsm8k: 1, mt_bench: 10 },
  calibrationFolds: 5,
  seed: 1,
};

export function matrixOf(rows: readonly PairRow[], hashBits: number): FeatureMatrix {
  return buildMatrix(
    rows.map((r) => ({ text: r.prompt })),
    hashBits,
  );
}

export function trainOnRows(
  matrix: FeatureMatrix,
  rows: readonly PairRow[],
  selected: readonly number[],
  config: RouterTrainingConfig,
) {
  return trainLogistic(
    selectRows(matrix, selected),
    selected.map((i) => rows[i]!.gain),
    selected.map((i) => config.benchWeights[rows[i]!.bench]),
    config.train,
  );
}

/** Out-of-fold raw outputs: each row scored by the model trained on the other folds. */
export function crossValidatedRaw(
  matrix: FeatureMatrix,
  rows: readonly PairRow[],
  folds: readonly number[],
  foldCount: number,
  config: RouterTrainingConfig,
  onFold?: (fold: number) => void,
): Float64Array {
  const raw = new Float64Array(rows.length);
  for (let f = 0; f < foldCount; f++) {
    const { train, test } = splitFold(folds, f);
    if (test.length === 0) continue;
    const weights = trainOnRows(matrix, rows, train, config);
    const predicted = predictRaw(weights, selectRows(matrix, test));
    test.forEach((i, k) => {
      raw[i] = predicted[k]!;
    });
    onFold?.(f);
  }
  return raw;
}

/**
 * Calibration knots: the weighted empirical CDF of `raw`, each benchmark weighing the same in total, at
 * every percentile. Knots with equal raw values are merged so that `raw` strictly increases.
 */
export function calibrationKnots(
  raw: ArrayLike<number>,
  groups: readonly string[],
): { raw: number[]; score: number[] } {
  const perGroup = new Map<string, number>();
  for (const g of groups) perGroup.set(g, (perGroup.get(g) ?? 0) + 1);
  const order = Array.from({ length: raw.length }, (_, i) => i).sort((a, b) => raw[a]! - raw[b]!);
  const weight = (i: number) => 1 / (perGroup.get(groups[i]!)! * perGroup.size);
  const knotsRaw: number[] = [];
  const knotsScore: number[] = [];
  let cumulative = 0;
  let next = 0;
  for (const i of order) {
    cumulative += weight(i);
    while (next <= 100 && cumulative >= next / 100 - 1e-12) {
      const r = raw[i]!;
      if (knotsRaw.length > 0 && r <= knotsRaw[knotsRaw.length - 1]!) knotsScore[knotsScore.length - 1] = next / 100;
      else {
        knotsRaw.push(r);
        knotsScore.push(next / 100);
      }
      next++;
    }
  }
  return { raw: knotsRaw.map((x) => Number(x.toPrecision(9))), score: knotsScore };
}

export interface TrainedRouter {
  asset: RouterAsset;
  /** Out-of-fold raw outputs used for the calibration curve. */
  calibrationRaw: Float64Array;
}

/**
 * Trains learned-v1, or with `wordProblem` learned-v4: the same linear model (its weights come out byte for
 * byte as v1's) plus learned-v3's word-problem head, whose out-of-fold offsets on the same calibration folds
 * enter v4's own calibration curve; with `subjectHead` too, learned-v5: v4 plus a subject head on quizzes
 * (train-subject-head.ts), whose out-of-fold offsets enter v5's calibration curve the same way.
 */
export function trainRouter(
  rows: readonly PairRow[],
  config: RouterTrainingConfig = DEFAULT_ROUTER_TRAINING,
  provenance: Record<string, unknown> = {},
  log: (line: string) => void = () => {},
  wordProblem?: WordProblemOptions,
  subjectHead?: SubjectHeadOptions,
): TrainedRouter {
  const matrix = matrixOf(rows, config.train.hashBits);
  const folds = rows.map((r) => foldOf(r, config.calibrationFolds, config.seed));
  const calibrationRaw = crossValidatedRaw(matrix, rows, folds, config.calibrationFolds, config, (f) =>
    log(`calibration fold ${f + 1}/${config.calibrationFolds} trained`),
  );
  const all = rows.map((_, i) => i);
  const wpFeatures = wordProblem ? wordProblemFeatures(rows) : undefined;
  if (wpFeatures && wordProblem) {
    const offsets = crossValidatedOffsets(rows, wpFeatures, folds, config.calibrationFolds, wordProblem);
    for (let i = 0; i < rows.length; i++) calibrationRaw[i] = calibrationRaw[i]! + offsets[i]!;
  }
  const wpHead = wpFeatures && wordProblem ? fitWordProblemHead(rows, wpFeatures, all, wordProblem) : undefined;
  let subject: RouterAsset['subjectHead'];
  if (subjectHead) {
    const data = subjectHeadData(rows, subjectHead);
    const offsets = crossValidatedSubjectOffsets(rows, data, folds, config.calibrationFolds, subjectHead, (f) =>
      log(`subject head, calibration fold ${f + 1}/${config.calibrationFolds} trained`),
    );
    for (let i = 0; i < rows.length; i++) calibrationRaw[i] = calibrationRaw[i]! + offsets[i]!;
    subject = fitSubjectHead(rows, data, all, subjectHead);
    log(`subject head: ${data.classes.length} classes, ${data.quiz.filter(Boolean).length} quizzes`);
  }
  const weights = trainOnRows(matrix, rows, all, config);
  log(`final model: ${weights.iterations} L-BFGS iterations, loss ${weights.loss.toFixed(6)}`);
  const asset: RouterAsset = {
    format: ASSET_FORMAT,
    name: subject ? 'learned-v5' : wpHead ? 'learned-v4' : 'learned-v1',
    featureVersion: FEATURE_VERSION,
    readChars: READ_CHARS,
    hashBits: config.train.hashBits,
    bias: Number(weights.bias.toPrecision(9)),
    dense: Array.from(weights.dense, (w) => Number(w.toPrecision(9))),
    sparse: encodeSparse(weights.sparse),
    ...(wpHead ? { wordProblem: wordProblemHeadToAsset(wpHead) } : {}),
    ...(subject ? { subjectHead: subject } : {}),
    calibration: calibrationKnots(
      calibrationRaw,
      rows.map((r) => r.bench),
    ),
    presetShares: { ...LEGACY_PRESET_SHARES },
    thresholds: thresholdsFromShares(LEGACY_PRESET_SHARES),
    training: {
      ...provenance,
      rows: rows.length,
      config,
      ...(wordProblem ? { wordProblem } : {}),
      ...(subjectHead ? { subjectHead } : {}),
      label: 'soft label (1 + gain) / 2, gain = strong - weak rescaled to [-1, 1]',
    },
  };
  return { asset, calibrationRaw };
}
