import {
  createFeatureBuffer,
  DENSE_SIZE,
  extractFeatures,
  type FeatureBuffer,
  type PromptContext,
} from './features.ts';
import { createSubjectHeadScratch, type SubjectHead, subjectHeadInputs, subjectHeadOffset } from './subject-head.ts';
import { createWordProblemScratch, readWordProblem, type WordProblemHead, wordProblemOffset } from './word-problem.ts';

/**
 * The learned router's model: a logistic regression over hashed sparse and dense features, whose output is
 * then mapped through a monotone calibration curve to a score in [0, 1].
 *
 * The regression was trained on soft labels y = (1 + gain) / 2, where gain in [-1, 1] is how much better the
 * strong model's answer was than the weak model's (RouteLLM pairs), so sigmoid(raw) estimates the expected
 * gain of the strong tier: the quantity a router should rank by. Ranking is all that routing needs, so the
 * score shipped in headers is the rank of `raw` among the reference prompts (their empirical CDF, with the
 * three benchmarks weighted equally): score 0.8 means "needs the strong tier more than 80% of the
 * reference prompts". Thresholds therefore read as shares of the reference traffic.
 */
export interface LinearRouterModel {
  readonly hashBits: number;
  readonly bias: number;
  readonly dense: Float64Array;
  readonly sparse: Float32Array;
  /**
   * The word-problem head (word-problem.ts): on prompts that read as maths word problems, raw = linear
   * output + head offset. Absent in learned-v1.
   */
  readonly wordProblem?: WordProblemHead;
  /**
   * learned-v5's subject head (subject-head.ts): on multiple-choice prompts, raw = linear output + the head's
   * weighted subject offset. Absent before learned-v5.
   */
  readonly subjectHead?: SubjectHead;
  /** Calibration knots: `raw` ascending, `score` non-decreasing in [0, 1]. */
  readonly knotsRaw: Float64Array;
  readonly knotsScore: Float64Array;
}

export function rawScore(model: LinearRouterModel, features: FeatureBuffer): number {
  let z = model.bias;
  const dense = features.dense;
  const w = model.dense;
  for (let i = 0; i < DENSE_SIZE; i++) z += w[i]! * dense[i]!;
  const sparse = model.sparse;
  const index = features.index;
  const value = features.value;
  const n = features.count;
  for (let i = 0; i < n; i++) z += sparse[index[i]!]! * value[i]!;
  return z;
}

/** Piecewise-linear map of a raw value through the calibration knots; clamps outside them. */
export function calibrate(knotsRaw: Float64Array, knotsScore: Float64Array, raw: number): number {
  const n = knotsRaw.length;
  if (n === 0) return 1 / (1 + Math.exp(-raw));
  if (raw <= knotsRaw[0]!) return knotsScore[0]!;
  if (raw >= knotsRaw[n - 1]!) return knotsScore[n - 1]!;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (knotsRaw[mid]! <= raw) lo = mid;
    else hi = mid;
  }
  const x0 = knotsRaw[lo]!;
  const x1 = knotsRaw[hi]!;
  const y0 = knotsScore[lo]!;
  return x1 > x0 ? y0 + ((knotsScore[hi]! - y0) * (raw - x0)) / (x1 - x0) : y0;
}

/** A scorer bound to one model and one reusable feature buffer: synchronous, allocation-free per call. */
export interface PromptScorer {
  /** Score in [0, 1] of a prompt text in its context. */
  score(text: string, context: PromptContext): number;
  /** The uncalibrated linear output, for training and diagnostics. */
  raw(text: string, context: PromptContext): number;
}

export function createScorer(model: LinearRouterModel): PromptScorer {
  const buffer = createFeatureBuffer(model.hashBits);
  const wordProblem = model.wordProblem;
  const scratch = createWordProblemScratch();
  const subjectHead = model.subjectHead;
  const subjectScratch = subjectHead ? createSubjectHeadScratch(subjectHead) : undefined;
  const raw = (text: string, context: PromptContext): number => {
    extractFeatures(text, context, buffer);
    const linear = rawScore(model, buffer);
    // At most one head applies, the subject head first: a quiz needs line breaks, which a word problem has not.
    if (subjectHead && subjectScratch && buffer.choice) {
      const m = subjectHeadInputs(subjectHead, buffer.words, buffer.wordCount, subjectScratch);
      return linear + subjectHeadOffset(subjectHead, subjectScratch, m);
    }
    if (wordProblem && readWordProblem(text, scratch)) return linear + wordProblemOffset(wordProblem, scratch.features);
    return linear;
  };
  return {
    raw,
    score: (text, context) => calibrate(model.knotsRaw, model.knotsScore, raw(text, context)),
  };
}
