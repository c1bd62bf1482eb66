import { DENSE_SIZE, EMPTY_CONTEXT, type PromptContext } from '../../../src/router/auto/features.ts';
import { createFeatureBufferV2, extractFeaturesV2, type FeatureSpecV2, weighEntries } from '../features-v2.ts';
import type { FeatureMatrix } from './train.ts';

/**
 * Training rows of the v2 router in compressed sparse rows: token counts per bucket (weighed into tf-idf
 * per training fold, with that fold's idf), the head bucket of each word entry, and the dense block.
 */
export interface CountMatrix {
  rows: number;
  spec: FeatureSpecV2;
  rowStart: Int32Array;
  index: Int32Array;
  count: Float64Array;
  head: Int32Array;
  /** 1 for multiple-choice rows (the subject head's input), 0 otherwise. */
  choice: Uint8Array;
  dense: Float64Array;
}

export function buildCountMatrix(
  texts: readonly { text: string; context?: PromptContext }[],
  spec: FeatureSpecV2,
): CountMatrix {
  const buffer = createFeatureBufferV2(spec);
  const rowStart = new Int32Array(texts.length + 1);
  const dense = new Float64Array(texts.length * DENSE_SIZE);
  const choice = new Uint8Array(texts.length);
  const index: number[] = [];
  const count: number[] = [];
  const head: number[] = [];
  texts.forEach((example, r) => {
    extractFeaturesV2(example.text, example.context ?? EMPTY_CONTEXT, buffer);
    for (let k = 0; k < buffer.count; k++) {
      index.push(buffer.index[k]!);
      count.push(buffer.value[k]!);
      head.push(buffer.head[k]!);
    }
    rowStart[r + 1] = index.length;
    choice[r] = buffer.choice ? 1 : 0;
    dense.set(buffer.dense, r * DENSE_SIZE);
  });
  return {
    rows: texts.length,
    spec,
    rowStart,
    index: Int32Array.from(index),
    count: Float64Array.from(count),
    head: Int32Array.from(head),
    choice,
    dense,
  };
}

/** idf values are stored as one byte each; training uses the same rounded values as the router. */
export const IDF_LEVELS = 255;
export const IDF_MAX = 12;

export function quantizeIdf(raw: number): number {
  return Math.round((Math.min(raw, IDF_MAX) / IDF_MAX) * IDF_LEVELS);
}

export function dequantizeIdf(level: number): number {
  return (level / IDF_LEVELS) * IDF_MAX;
}

/**
 * Smoothed idf, ln(n / (1 + df)) + 1, of each bucket over the selected rows, as one-byte levels. Buckets
 * no training row has get the largest value: the router sees them as rare words.
 */
export function idfLevels(matrix: CountMatrix, selected: readonly number[]): Uint8Array {
  const size = 1 << matrix.spec.hashBits;
  const df = new Int32Array(size);
  for (const r of selected) {
    for (let k = matrix.rowStart[r]!; k < matrix.rowStart[r + 1]!; k++) df[matrix.index[k]!]!++;
  }
  const n = selected.length;
  const levels = new Uint8Array(size);
  for (let j = 0; j < size; j++) levels[j] = quantizeIdf(Math.log(n / (1 + df[j]!)) + 1);
  return levels;
}

export function idfFromLevels(levels: Uint8Array): Float32Array {
  return Float32Array.from(levels, dequantizeIdf);
}

/** Selected rows with tf-idf values, plus their head buckets: the text model's and the head's input. */
export interface WeighedRows {
  matrix: FeatureMatrix;
  head: Int32Array;
}

export function weighRows(source: CountMatrix, selected: readonly number[], idf: ArrayLike<number>): WeighedRows {
  let nnz = 0;
  for (const r of selected) nnz += source.rowStart[r + 1]! - source.rowStart[r]!;
  const rowStart = new Int32Array(selected.length + 1);
  const index = new Int32Array(nnz);
  const value = new Float64Array(nnz);
  const head = new Int32Array(nnz);
  const dense = new Float64Array(selected.length * DENSE_SIZE);
  let at = 0;
  selected.forEach((r, k) => {
    const from = source.rowStart[r]!;
    const to = source.rowStart[r + 1]!;
    index.set(source.index.subarray(from, to), at);
    value.set(source.count.subarray(from, to), at);
    head.set(source.head.subarray(from, to), at);
    weighEntries(index, value, at, at + to - from, idf);
    at += to - from;
    rowStart[k + 1] = at;
    dense.set(source.dense.subarray(r * DENSE_SIZE, (r + 1) * DENSE_SIZE), k * DENSE_SIZE);
  });
  return {
    matrix: { rows: selected.length, hashBits: source.spec.hashBits, rowStart, index, value, dense },
    head,
  };
}
