import { DENSE_SIZE, HEAD_CHARS, type PromptContext, TAIL_CHARS } from '../../src/router/auto/features.ts';
import { calibrate, createScorer, type LinearRouterModel } from '../../src/router/auto/model.ts';
import type { WordProblemHead } from '../../src/router/auto/word-problem.ts';
import { createFeatureBufferV2, extractFeaturesV2, type FeatureSpecV2, type IdfLevels, tf } from './features-v2.ts';
import { countOptionLines } from './token-scan.ts';

/**
 * The v2 router's model (`learned-v2`). Open prompts (everything but multiple-choice quizzes, so all chat
 * traffic) are read by a v1-style model (hashed ±1/sqrt(n) n-grams, features.ts, retrained in the same
 * run): in cross-validation it beat the tf-idf model on GSM8K and MT-Bench. Multiple-choice prompts (two or
 * more option lines) are read by two parts over one tf-idf feature vector (features-v2.ts), added in logit
 * space.
 *   - Text model: a logistic regression on soft labels (1 + gain) / 2, as v1 (model.ts), so sigmoid(text)
 *     estimates the expected gain of the strong model on this prompt.
 *   - Subject head: a softmax over the training data's categories (57 MMLU subjects, GSM8K, 8 MT-Bench
 *     categories) from the prompt's words; mix = sum over categories of P(category) x how far the
 *     category's mean gain lies from its benchmark's mean gain (in logit units). The head learns from
 *     category labels, which are far less noisy than per-prompt gains; the benchmark-level offset is left
 *     to the text model, so the head only moves prompts within their kind. The head reads multiple-choice
 *     prompts only: the categories' gains were measured on MMLU's quizzes (where GPT-4 loses on high-school
 *     mathematics, for one), and carrying them over to open questions made MT-Bench worse in
 *     cross-validation. On other prompts (all chat traffic) it is skipped, which also saves its cost.
 * raw = text + mixWeight x mix; the score is raw mapped through the calibration knots (the empirical CDF
 * of out-of-fold raws on the reference prompts), as in v1.
 *
 * learned-v3 is this model plus a word-problem head (`wordProblem`): on open prompts that read as maths word
 * problems (word-problem.ts), raw = open + weight x (head - center), where head is a logistic regression
 * on the problem's dense counts, fitted on GSM8K rows only, and center its mean there, so that the head
 * only reorders word problems among themselves (the open model keeps their level).
 */
export interface RouterModelV2 {
  /** The model for open prompts: v1's features and form, its own weights. */
  readonly open: Pick<LinearRouterModel, 'hashBits' | 'bias' | 'dense' | 'sparse'>;
  readonly spec: FeatureSpecV2;
  readonly idf: IdfLevels;
  readonly bias: number;
  readonly dense: Float64Array;
  readonly sparse: Float32Array;
  readonly head: {
    readonly classes: number;
    /** weights[bucket * classes + c] x scales[c]: int8 in memory (a quarter of float32's cache footprint). */
    readonly weights: Int8Array;
    readonly scales: Float64Array;
    readonly bias: Float64Array;
    /** Each category's shrunk mean gain minus its benchmark's mean gain, both as logit((1 + gain) / 2). */
    readonly gains: Float64Array;
  };
  readonly mixWeight: number;
  /** learned-v3's word-problem head; absent in learned-v2. */
  readonly wordProblem?: WordProblemHead;
  readonly knotsRaw: Float64Array;
  readonly knotsScore: Float64Array;
}

/** The head's mix (P-weighted category offsets) for entries [from, to) of (index, value); `z` is a scratch array of `classes` numbers. */
export function mixOf(
  head: {
    readonly classes: number;
    readonly weights: ArrayLike<number>;
    /** Per-category factor of the weights (int8 storage); all 1 when absent. */
    readonly scales?: ArrayLike<number>;
    readonly bias: ArrayLike<number>;
  },
  gains: ArrayLike<number>,
  index: ArrayLike<number>,
  value: ArrayLike<number>,
  from: number,
  to: number,
  z: Float64Array,
): number {
  const C = head.classes;
  const w = head.weights;
  z.fill(0, 0, C);
  for (let k = from; k < to; k++) {
    const base = index[k]! * C;
    const v = value[k]!;
    for (let c = 0; c < C; c++) z[c] = z[c]! + w[base + c]! * v;
  }
  const scales = head.scales;
  for (let c = 0; c < C; c++) z[c] = head.bias[c]! + (scales ? scales[c]! : 1) * z[c]!;
  let max = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < C; c++) if (z[c]! > max) max = z[c]!;
  let sum = 0;
  let mix = 0;
  for (let c = 0; c < C; c++) {
    const e = Math.exp(z[c]! - max);
    sum += e;
    mix += e * gains[c]!;
  }
  return mix / sum;
}

/** logit((1 + gain) / 2), clamped away from ±1 so that a category with gain ±1 stays finite. */
export function gainLogit(gain: number): number {
  const p = Math.min(0.995, Math.max(0.005, (1 + gain) / 2));
  return Math.log(p / (1 - p));
}

export function combineParts(text: number, mix: number, mixWeight: number): number {
  return text + mixWeight * mix;
}

/** Two or more option lines in the part of the text the router reads: the quiz path. */
export function isMultipleChoice(text: string): boolean {
  const length = text.length;
  if (length <= HEAD_CHARS + TAIL_CHARS) return countOptionLines(text, 0, length) >= 2;
  return countOptionLines(text, 0, HEAD_CHARS) + countOptionLines(text, length - TAIL_CHARS, length) >= 2;
}

export interface PromptScorerV2 {
  score(text: string, context: PromptContext): number;
  raw(text: string, context: PromptContext): number;
}

/**
 * A scorer bound to one model, with its own buffers: synchronous, allocation-free per call. Open prompts go
 * to the open model (model.ts's scorer, with the word-problem head when the model has one).
 *
 * The quiz path performs the operations of the trainer's `weighEntries`, then the text model's dot product,
 * then `mixOf`, in the same order (test/versions.test.ts checks equal results), in one pass over the
 * entries, reading each bucket's text weight and idf from one interleaved table (one cache line per entry
 * instead of two): about 10% faster per 1k-token quiz (log.md).
 */
export function createScorerV2(model: RouterModelV2): PromptScorerV2 {
  const buffer = createFeatureBufferV2(model.spec);
  const C = model.head.classes;
  const z = new Float64Array(C);
  // Head entries are gathered here so that the head's loop reads two dense arrays.
  const headIndex = new Int32Array(buffer.index.length);
  const headValue = new Float64Array(buffer.index.length);
  const weightOf = new Float64Array(buffer.index.length);
  // textIdf[2b] = text weight of bucket b, textIdf[2b + 1] = its idf; both are float32 values, so the
  // Float32Array holds them exactly.
  const textIdf = new Float32Array(2 * model.sparse.length);
  for (let b = 0; b < model.sparse.length; b++) {
    const idf = model.idf.value[model.idf.levels[b]!]!;
    if (Math.fround(idf) !== idf) throw new Error('idf levels must be float32 values');
    textIdf[2 * b] = model.sparse[b]!;
    textIdf[2 * b + 1] = idf;
  }
  const open = createScorer({
    ...model.open,
    ...(model.wordProblem ? { wordProblem: model.wordProblem } : {}),
    knotsRaw: new Float64Array(0),
    knotsScore: new Float64Array(0),
  });
  const quizRaw = (text: string, context: PromptContext): number => {
    extractFeaturesV2(text, context, buffer);
    const n = buffer.count;
    const index = buffer.index;
    const value = buffer.value;
    const heads = buffer.head;
    let norm = 0;
    for (let k = 0; k < n; k++) {
      const at = index[k]! << 1;
      const v = tf(value[k]!) * textIdf[at + 1]!;
      value[k] = v;
      weightOf[k] = textIdf[at]!;
      norm += v * v;
    }
    let z0 = model.bias;
    const dense = buffer.dense;
    const denseWeights = model.dense;
    for (let i = 0; i < DENSE_SIZE; i++) z0 += denseWeights[i]! * dense[i]!;
    // With norm 0 the values stay as they are (x 1 is exact), as in weighEntries.
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 1;
    let m = 0;
    for (let k = 0; k < n; k++) {
      const v = value[k]! * scale;
      z0 += weightOf[k]! * v;
      const h = heads[k]!;
      if (h >= 0) {
        headIndex[m] = h;
        headValue[m] = v;
        m++;
      }
    }
    if (!buffer.choice) return z0;
    return combineParts(z0, mixOf(model.head, model.head.gains, headIndex, headValue, 0, m, z), model.mixWeight);
  };
  const raw = (text: string, context: PromptContext): number =>
    isMultipleChoice(text) ? quizRaw(text, context) : open.raw(text, context);
  return {
    raw,
    score: (text, context) => calibrate(model.knotsRaw, model.knotsScore, raw(text, context)),
  };
}
