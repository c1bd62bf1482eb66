import { createFeatureBuffer, EMPTY_CONTEXT, extractFeatures } from '../../../src/router/auto/features.ts';
import {
  createSubjectHeadScratch,
  type SubjectHead,
  type SubjectHeadAsset,
  subjectHeadFromAsset,
  subjectHeadInputs,
  subjectHeadOffset,
} from '../../../src/router/auto/subject-head.ts';
import { encodeHead } from './asset-writer.ts';
import type { PairRow } from './dataset.ts';
import { splitFold } from './dataset.ts';
import { type HeadOptions, type HeadRows, trainHeadOnRows } from './train-head.ts';
import { categoryOf, classGains } from './train-v2.ts';

/**
 * learned-v5's subject head (subject-head.ts), trained from RouteLLM pairs: a softmax regression from a
 * quiz's first distinct word buckets (binary inputs, 1/sqrt(m) each) to its MMLU subject, learned-v2's head
 * trainer (train-head.ts) on other inputs. Every fold model goes through the asset's int8 encoding and is
 * scored with the router's own function, so out-of-fold offsets (calibration, evaluation) are the numbers
 * the shipped router computes.
 */

export interface SubjectHeadOptions extends HeadOptions {
  headBits: number;
  /** Distinct word buckets read per quiz. */
  words: number;
  /** Weight of the head's mix in the raw output. */
  weight: number;
  /** Pseudo-rows shrinking a subject's mean gain towards MMLU's (as learned-v2's head). */
  categoryPrior: number;
}

/**
 * Chosen by 5-fold cross-validation on the development rows (log.md, eighth round): 64 words at
 * weight 3, learned-v2's head settings (L2 1e-5, 150 L-BFGS iterations) and shrinkage (10 pseudo-rows), and
 * a 2^13-bucket table: half the memory of 2^14 (1.2 MB packed in the router instead of 2.5) for 0.0007
 * MMLU APGR in that study (2^12: 0.0018, 2^16: no gain).
 */
export const DEFAULT_SUBJECT_HEAD: SubjectHeadOptions = {
  headBits: 13,
  words: 64,
  l2: 1e-5,
  maxIterations: 150,
  weight: 3,
  categoryPrior: 10,
};

/** The head's inputs for every row (empty for prompts that are not quizzes) and the class of each quiz. */
export interface SubjectHeadData {
  /** Buckets read per row; empty where the prompt is not multiple-choice. */
  inputs: Int32Array[];
  /** Whether the router reads the row as a quiz (the subject head applies). */
  quiz: boolean[];
  /** The quizzes' categories, sorted: the head's classes. */
  classes: string[];
  /** Class index of each quiz row, -1 elsewhere. */
  labels: Int32Array;
}

export function subjectHeadData(
  rows: readonly Pick<PairRow, 'prompt' | 'bench' | 'category'>[],
  options: Pick<SubjectHeadOptions, 'headBits' | 'words'>,
): SubjectHeadData {
  // The hash bits of the linear model do not matter here: only the word hashes and the quiz flag are read.
  const buffer = createFeatureBuffer(16);
  const scratch = createSubjectHeadScratch({ ...options, classes: 1 });
  const quiz: boolean[] = [];
  const inputs = rows.map((row) => {
    extractFeatures(row.prompt, EMPTY_CONTEXT, buffer);
    quiz.push(buffer.choice);
    if (!buffer.choice) return new Int32Array(0);
    const m = subjectHeadInputs(options, buffer.words, buffer.wordCount, scratch);
    return scratch.buckets.slice(0, m);
  });
  const classes = [...new Set(rows.filter((_, i) => quiz[i]).map(categoryOf))].sort();
  const index = new Map(classes.map((c, k) => [c, k]));
  const labels = Int32Array.from(rows, (row, i) => (quiz[i] ? index.get(categoryOf(row))! : -1));
  return { inputs, quiz, classes, labels };
}

/** The selected rows' head inputs as CSR rows (each entry 1/sqrt(m)), the trainer's input. */
export function headRowsOf(data: SubjectHeadData, selected: readonly number[]): HeadRows {
  const rowStart = new Int32Array(selected.length + 1);
  selected.forEach((i, r) => {
    rowStart[r + 1] = rowStart[r]! + data.inputs[i]!.length;
  });
  const index = new Int32Array(rowStart[selected.length]!);
  const value = new Float64Array(index.length);
  selected.forEach((i, r) => {
    const list = data.inputs[i]!;
    index.set(list, rowStart[r]!);
    value.fill(list.length > 0 ? 1 / Math.sqrt(list.length) : 0, rowStart[r]!, rowStart[r + 1]!);
  });
  return { rows: selected.length, rowStart, index, value };
}

/** Fits the head on the selected quiz rows, with the selected rows' subject gains; returns it as stored. */
export function fitSubjectHead(
  rows: readonly PairRow[],
  data: SubjectHeadData,
  selected: readonly number[],
  options: SubjectHeadOptions = DEFAULT_SUBJECT_HEAD,
): SubjectHeadAsset {
  const quizzes = selected.filter((i) => data.quiz[i]);
  const C = data.classes.length;
  const trained = trainHeadOnRows(
    headRowsOf(data, quizzes),
    options.headBits,
    quizzes.map((i) => data.labels[i]!),
    C,
    options,
  );
  const gains = classGains(rows, selected, data.classes, options.categoryPrior);
  const { scales, data: encoded } = encodeHead(trained.weights, C);
  const round9 = (x: number) => Number(x.toPrecision(9));
  return {
    headBits: options.headBits,
    words: options.words,
    classes: data.classes,
    encoding: 'int8-base64',
    scales,
    data: encoded,
    bias: Array.from(trained.bias, round9),
    gains: Array.from(gains, round9),
    weight: options.weight,
  };
}

/** The router's offset (weight x mix) for each selected row; 0 for rows that are not quizzes. */
export function subjectHeadOffsets(
  head: SubjectHead,
  data: SubjectHeadData,
  selected: readonly number[],
): Float64Array {
  const scratch = createSubjectHeadScratch(head);
  return Float64Array.from(selected, (i) => {
    if (!data.quiz[i]) return 0;
    const list = data.inputs[i]!;
    scratch.buckets.set(list);
    return subjectHeadOffset(head, scratch, list.length);
  });
}

/** Out-of-fold offsets: each row scored by the head fitted on the other folds. */
export function crossValidatedSubjectOffsets(
  rows: readonly PairRow[],
  data: SubjectHeadData,
  folds: readonly number[],
  foldCount: number,
  options: SubjectHeadOptions = DEFAULT_SUBJECT_HEAD,
  onFold?: (fold: number) => void,
): Float64Array {
  const out = new Float64Array(rows.length);
  for (let f = 0; f < foldCount; f++) {
    const { train, test } = splitFold(folds, f);
    if (test.length === 0) continue;
    const head = subjectHeadFromAsset(fitSubjectHead(rows, data, train, options));
    subjectHeadOffsets(head, data, test).forEach((v, k) => {
      out[test[k]!] = v;
    });
    onFold?.(f);
  }
  return out;
}
