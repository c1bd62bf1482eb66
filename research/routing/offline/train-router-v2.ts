import { ASSET_FORMAT } from '../../../src/router/auto/asset.ts';
import { EMPTY_CONTEXT, READ_CHARS } from '../../../src/router/auto/features.ts';
import { encodeIdf, type RouterAssetV2 } from '../asset-v2.ts';
import { createFeatureBufferV2, extractFeaturesV2, FEATURE_VERSION_V2, type FeatureSpecV2 } from '../features-v2.ts';
import { isMultipleChoice } from '../model-v2.ts';
import { encodeHead, encodeSparse, thresholdsFromShares, wordProblemHeadToAsset } from './asset-writer.ts';
import { assignFolds, type PairRow } from './dataset.ts';
import { buildCountMatrix, type CountMatrix, IDF_LEVELS, IDF_MAX } from './matrix-v2.ts';
import { crossValidatedPartsParallel } from './parallel-folds.ts';
import {
  calibrationKnots,
  crossValidatedRaw,
  DEFAULT_ROUTER_TRAINING,
  matrixOf,
  LEGACY_PRESET_SHARES as PRESET_SHARES,
  type RouterTrainingConfig,
  trainOnRows,
} from './train-router.ts';
import { categoryOf, combined, crossValidatedParts, fitV2, type V2TrainingConfig } from './train-v2.ts';
import {
  crossValidatedOffsets,
  fitWordProblemHead,
  type WordProblemOptions,
  wordProblemFeatures,
} from './train-word-problem.ts';

/**
 * From RouteLLM pairs to the v2 weights asset: cross-validated raw outputs give the calibration curve, then
 * one model is fitted on all rows. The settings below were chosen by 5-fold cross-validation on a
 * development part of the rows (80%, fold seed 3); the other 20% (the lockbox, `isLockbox`) were not
 * looked at until these settings were frozen (log.md).
 */

export const DEFAULT_V2_TRAINING: V2TrainingConfig = {
  open: DEFAULT_ROUTER_TRAINING.train,
  features: { hashBits: 18, headBits: 14, headWords: 64, choiceCopy: false, optionCopy: true },
  text: { l2Sparse: 1e-4, l2Dense: 3e-4, maxIterations: 200 },
  head: { l2: 1e-5, maxIterations: 150 },
  mixWeight: 1.5,
  categoryPrior: 10,
  benchWeights: { mmlu: 1, gsm8k: 1, mt_bench: 10 },
  calibrationFolds: 5,
  seed: 1,
};

/** The categories of the multiple-choice rows, sorted: the head's classes (it reads quizzes only). */
export function categoriesOf(rows: readonly PairRow[], spec: FeatureSpecV2): string[] {
  const buffer = createFeatureBufferV2(spec);
  const labels = new Set<string>();
  for (const row of rows) {
    extractFeaturesV2(row.prompt, EMPTY_CONTEXT, buffer);
    if (buffer.choice) labels.add(categoryOf(row));
  }
  return [...labels].sort();
}

export function countMatrixOf(rows: readonly PairRow[], config: V2TrainingConfig): CountMatrix {
  return buildCountMatrix(
    rows.map((r) => ({ text: r.prompt })),
    config.features,
  );
}

/** v1's trainer settings for the open-prompt model. */
export function openTrainingConfig(config: V2TrainingConfig): RouterTrainingConfig {
  return {
    train: config.open,
    benchWeights: config.benchWeights,
    calibrationFolds: config.calibrationFolds,
    seed: config.seed,
  };
}

/** What learned-v2 outputs for each row: the quiz model's raw on multiple-choice prompts, else the open model's. */
export function routedRaw(
  rows: readonly PairRow[],
  quizRaw: ArrayLike<number>,
  openRaw: ArrayLike<number>,
): Float64Array {
  return Float64Array.from(rows, (row, i) => (isMultipleChoice(row.prompt) ? quizRaw[i]! : openRaw[i]!));
}

export interface TrainedRouterV2 {
  asset: RouterAssetV2;
  calibrationRaw: Float64Array;
}

const round9 = (x: number) => Number(x.toPrecision(9));

/**
 * Trains the v2 asset, or with `wordProblem` the v3 asset (v2 plus the word-problem head, whose out-of-fold
 * offsets enter the calibration curve). `workers` > 1 fits the calibration folds in worker threads (same
 * result, less wall time); 1 keeps everything in this thread (tests).
 */
export async function trainRouterV2(
  rows: readonly PairRow[],
  config: V2TrainingConfig = DEFAULT_V2_TRAINING,
  provenance: Record<string, unknown> = {},
  log: (line: string) => void = () => {},
  workers = 1,
  wordProblem?: WordProblemOptions,
): Promise<TrainedRouterV2> {
  const matrix = countMatrixOf(rows, config);
  const classes = categoriesOf(rows, config.features);
  const folds = assignFolds(rows, config.calibrationFolds, config.seed);
  const onFold = (f: number) => log(`calibration fold ${f + 1}/${config.calibrationFolds} fitted`);
  const parts =
    workers > 1
      ? await crossValidatedPartsParallel(rows, folds, config.calibrationFolds, classes, config, { workers, onFold })
      : crossValidatedParts(matrix, rows, folds, config.calibrationFolds, classes, config, onFold);
  const openConfig = openTrainingConfig(config);
  const openMatrix = matrixOf(rows, config.open.hashBits);
  const openRaw = crossValidatedRaw(openMatrix, rows, folds, config.calibrationFolds, openConfig);
  const all = rows.map((_, i) => i);
  const wpFeatures = wordProblem ? wordProblemFeatures(rows) : undefined;
  if (wpFeatures && wordProblem) {
    const offsets = crossValidatedOffsets(rows, wpFeatures, folds, config.calibrationFolds, wordProblem);
    for (let i = 0; i < rows.length; i++) openRaw[i] = openRaw[i]! + offsets[i]!;
  }
  const calibrationRaw = routedRaw(rows, combined(parts, config.mixWeight), openRaw);
  const wpHead = wpFeatures && wordProblem ? fitWordProblemHead(rows, wpFeatures, all, wordProblem) : undefined;
  const open = trainOnRows(openMatrix, rows, all, openConfig);
  const fitted = fitV2(matrix, rows, all, classes, config);
  log(
    `final model: text ${fitted.text.iterations} and head ${fitted.head.iterations} L-BFGS iterations, text loss ` +
      fitted.text.loss.toFixed(6),
  );
  const head = encodeHead(fitted.head.weights, classes.length);
  const asset: RouterAssetV2 = {
    format: ASSET_FORMAT,
    name: wpHead ? 'learned-v3' : 'learned-v2',
    featureVersion: FEATURE_VERSION_V2,
    readChars: READ_CHARS,
    open: {
      hashBits: config.open.hashBits,
      bias: round9(open.bias),
      dense: Array.from(open.dense, round9),
      sparse: encodeSparse(open.sparse),
    },
    features: { ...config.features },
    bias: round9(fitted.text.bias),
    dense: Array.from(fitted.text.dense, round9),
    sparse: encodeSparse(fitted.text.sparse),
    idf: encodeIdf(fitted.idfLevels, IDF_MAX, IDF_LEVELS),
    head: {
      classes,
      encoding: 'int8-base64',
      scales: head.scales,
      data: head.data,
      bias: Array.from(fitted.head.bias, round9),
      gains: Array.from(fitted.classGains, round9),
    },
    mixWeight: config.mixWeight,
    ...(wpHead ? { wordProblem: wordProblemHeadToAsset(wpHead) } : {}),
    calibration: calibrationKnots(
      calibrationRaw,
      rows.map((r) => r.bench),
    ),
    presetShares: { ...PRESET_SHARES },
    thresholds: thresholdsFromShares(PRESET_SHARES),
    training: {
      ...provenance,
      rows: rows.length,
      config,
      ...(wordProblem ? { wordProblem } : {}),
      label: 'text: soft label (1 + gain) / 2; head: category of the row; gain = strong - weak in [-1, 1]',
    },
  };
  return { asset, calibrationRaw };
}
