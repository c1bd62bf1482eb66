import type { FeatureSpecV2 } from '../features-v2.ts';
import { combineParts, gainLogit } from '../model-v2.ts';
import type { Bench, PairRow } from './dataset.ts';
import { splitFold } from './dataset.ts';
import { type CountMatrix, idfFromLevels, idfLevels, weighRows } from './matrix-v2.ts';
import { predictRaw, type TrainedWeights, type TrainOptions, trainLogistic } from './train.ts';
import { type HeadOptions, headMix, type TrainedHead, trainHead } from './train-head.ts';

/**
 * Fitting the v2 router on selected rows: idf from those rows, the text model (logistic regression on soft
 * gain labels over tf-idf + dense features) and the subject head (softmax over categories), with the
 * categories' mean gains. Everything is computed from the selected rows only, so a fold model never sees
 * its held-out rows, not even through idf.
 */

export interface V2TrainingConfig {
  /** The open-prompt model: v1's features and trainer (train-router.ts), with these settings. */
  open: TrainOptions;
  features: FeatureSpecV2;
  text: Omit<TrainOptions, 'hashBits'>;
  head: HeadOptions;
  /** Weight of the head's logit in the raw output (the text model's weight is 1). */
  mixWeight: number;
  /** Pseudo-count shrinking a category's mean gain towards its benchmark's mean. */
  categoryPrior: number;
  benchWeights: Record<Bench, number>;
  calibrationFolds: number;
  seed: number;
}

/** Category label of a row: benchmark and category ("mmlu/anatomy", "gsm8k/math", "mt_bench/writing"). */
export function categoryOf(row: Pick<PairRow, 'bench' | 'category'>): string {
  return `${row.bench}/${row.category}`;
}

export interface FittedV2 {
  idfLevels: Uint8Array;
  text: TrainedWeights;
  head: TrainedHead;
  classGains: Float64Array;
}

/**
 * Per category: its mean gain in the selected rows, shrunk towards its benchmark's mean by `prior` pseudo-rows,
 * as a logit offset from that benchmark mean (what the subject head adds, weighted by its probabilities).
 */
export function classGains(
  rows: readonly PairRow[],
  selected: readonly number[],
  classes: readonly string[],
  prior: number,
): Float64Array {
  const benchTotal = new Map<string, { sum: number; n: number }>();
  const classTotal = new Map<string, { sum: number; n: number }>();
  for (const i of selected) {
    const row = rows[i]!;
    for (const [map, key] of [
      [benchTotal, row.bench],
      [classTotal, categoryOf(row)],
    ] as const) {
      const t = map.get(key) ?? { sum: 0, n: 0 };
      t.sum += row.gain;
      t.n++;
      map.set(key, t);
    }
  }
  return Float64Array.from(classes, (label) => {
    const bench = benchTotal.get(label.slice(0, label.indexOf('/')));
    const benchMean = bench && bench.n > 0 ? bench.sum / bench.n : 0;
    const t = classTotal.get(label) ?? { sum: 0, n: 0 };
    return gainLogit((t.sum + prior * benchMean) / (t.n + prior)) - gainLogit(benchMean);
  });
}

export function fitV2(
  matrix: CountMatrix,
  rows: readonly PairRow[],
  selected: readonly number[],
  classes: readonly string[],
  config: V2TrainingConfig,
  parts: { text?: boolean; head?: boolean } = {},
): FittedV2 {
  const levels = idfLevels(matrix, selected);
  const weighed = weighRows(matrix, selected, idfFromLevels(levels));
  const classIndex = new Map(classes.map((c, k) => [c, k]));
  const text =
    parts.text === false
      ? { bias: 0, dense: new Float64Array(0), sparse: new Float32Array(0), iterations: 0, loss: 0 }
      : trainLogistic(
          weighed.matrix,
          selected.map((i) => rows[i]!.gain),
          selected.map((i) => config.benchWeights[rows[i]!.bench]),
          { ...config.text, hashBits: config.features.hashBits },
        );
  const head =
    parts.head === false
      ? {
          classes: classes.length,
          headBits: config.features.headBits,
          weights: new Float32Array((1 << config.features.headBits) * classes.length),
          bias: new Float64Array(classes.length),
          iterations: 0,
        }
      : trainHead(
          weighed,
          config.features.headBits,
          selected.map((i) => (matrix.choice[i] ? (classIndex.get(categoryOf(rows[i]!)) ?? -1) : -1)),
          classes.length,
          config.head,
        );
  return { idfLevels: levels, text, head, classGains: classGains(rows, selected, classes, config.categoryPrior) };
}

/** The two parts' outputs on selected rows (combine them with `combineParts`); mix is 0 for open prompts. */
export function predictParts(
  fitted: FittedV2,
  matrix: CountMatrix,
  selected: readonly number[],
): { text: Float64Array; mix: Float64Array } {
  const weighed = weighRows(matrix, selected, idfFromLevels(fitted.idfLevels));
  const text =
    fitted.text.sparse.length > 0 ? predictRaw(fitted.text, weighed.matrix) : new Float64Array(selected.length);
  return { text, mix: headMix(fitted.head, fitted.classGains, weighed) };
}

/** Out-of-fold parts: each row predicted by the model fitted on the other folds. */
export function crossValidatedParts(
  matrix: CountMatrix,
  rows: readonly PairRow[],
  folds: readonly number[],
  foldCount: number,
  classes: readonly string[],
  config: V2TrainingConfig,
  onFold?: (fold: number) => void,
  parts: { text?: boolean; head?: boolean } = {},
): { text: Float64Array; mix: Float64Array } {
  const text = new Float64Array(rows.length);
  const mix = new Float64Array(rows.length);
  for (let f = 0; f < foldCount; f++) {
    const { train, test } = splitFold(folds, f);
    if (test.length === 0) continue;
    const fitted = fitV2(matrix, rows, train, classes, config, parts);
    const predicted = predictParts(fitted, matrix, test);
    test.forEach((i, k) => {
      text[i] = predicted.text[k]!;
      mix[i] = predicted.mix[k]!;
    });
    onFold?.(f);
  }
  return { text, mix };
}

export function combined(parts: { text: Float64Array; mix: Float64Array }, mixWeight: number): Float64Array {
  return parts.text.map((t, i) => combineParts(t, parts.mix[i]!, mixWeight));
}
