/**
 * Development-CV study (eighth round, log.md): which binary-input subject head to put on top of
 * learned-v4 for quizzes (learned-v5). Same protocol as every v2/v3 decision: development rows only (the
 * lockbox left out), 5 folds, fold seed 3, MMLU APGR per fold averaged.
 *
 * Inputs of a quiz: the distinct head buckets (top `headBits` bits of the token hash, the same hashes as
 * learned-v1's scan) of its first N words, optionally followed by its first M word bigrams; each weighs
 * 1/sqrt(count). Prints v1 alone, each head alone and v1 + w x head for several w.
 * Not part of the product: `node research/routing/dev-cv-v5-head.ts [variant ...]` (variants like `w64`, `w128`,
 * `w64b64`).
 */
import { HEAD_CHARS, TAIL_CHARS } from '../../src/router/auto/features.ts';
import { isMultipleChoice, mixOf } from './model-v2.ts';
import { assignFolds, defaultDataDir, loadPairs, lockboxMask } from './offline/dataset.ts';
import { foldAveragedApgr } from './offline/evaluate-pairs.ts';
import { predictRaw, selectRows, trainLogistic } from './offline/train.ts';
import { type HeadRows, trainHeadOnRows } from './offline/train-head.ts';
import { crossValidatedRaw, matrixOf } from './offline/train-router.ts';
import { categoriesOf, DEFAULT_V2_TRAINING, openTrainingConfig } from './offline/train-router-v2.ts';
import { categoryOf, classGains } from './offline/train-v2.ts';
import { createTokenScan, KIND_BIGRAM, KIND_WORD, resetScan, scanTokens } from './token-scan.ts';

const FOLDS = 5;
const WEIGHTS = [2, 3, 4, 5];
// Variants: w<words>[b<bigrams>][h<headBits>][l<l2>], e.g. w64, w128, w64b64, w64h16, w64l3e-5; `true` is
// the true subject (a one-hot head), the ceiling of this approach.
const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const variants = (names.length ? names : ['true', 'w64', 'w128', 'w64b64']).map((v) => {
  if (v === 'true') return { name: v, words: 0, bigrams: 0, bits: 14, l2: 0 };
  const m = /^w(\d+)(?:b(\d+))?(?:h(\d+))?(?:l(\S+))?$/.exec(v);
  if (!m) throw new Error(`bad variant ${v}`);
  return {
    name: v,
    words: Number(m[1]),
    bigrams: Number(m[2] ?? 0),
    bits: Number(m[3] ?? 14),
    l2: Number(m[4] ?? 1e-5),
  };
});

const all = loadPairs(defaultDataDir()).rows;
const lockbox = lockboxMask(all);
const rows = all.filter((_, i) => !lockbox[i]);
const config = DEFAULT_V2_TRAINING;
const folds = assignFolds(rows, FOLDS, 3);
const classes = categoriesOf(rows, config.features);
const C = classes.length;
const classIndex = new Map(classes.map((c, k) => [c, k]));
const quiz = rows.map((r) => isMultipleChoice(r.prompt));

const scan = createTokenScan(HEAD_CHARS + TAIL_CHARS);
function inputsOf(text: string, words: number, bigrams: number, bits: number): number[] {
  resetScan(scan);
  if (text.length <= HEAD_CHARS + TAIL_CHARS) scanTokens(text, 0, text.length, scan, false);
  else {
    scanTokens(text, 0, HEAD_CHARS, scan, false);
    scanTokens(text, text.length - TAIL_CHARS, text.length, scan, false);
  }
  const seen = new Set<number>();
  const out: number[] = [];
  let w = 0;
  let b = 0;
  const shift = 32 - bits;
  for (let t = 0; t < scan.count; t++) {
    const kind = scan.kind[t];
    const bucket = scan.hash[t]! >>> shift;
    if (kind === KIND_WORD && w < words && !seen.has(bucket)) {
      seen.add(bucket);
      out.push(bucket);
      w++;
    } else if (kind === KIND_BIGRAM && b < bigrams && !seen.has(bucket)) {
      seen.add(bucket);
      out.push(bucket);
      b++;
    }
  }
  return out;
}

function headRowsOf(selected: readonly number[], lists: readonly number[][]): HeadRows {
  const rowStart = new Int32Array(selected.length + 1);
  let nnz = 0;
  selected.forEach((i, r) => {
    nnz += lists[i]!.length;
    rowStart[r + 1] = nnz;
  });
  const index = new Int32Array(nnz);
  const value = new Float64Array(nnz);
  selected.forEach((i, r) => {
    const list = lists[i]!;
    const v = list.length ? 1 / Math.sqrt(list.length) : 0;
    list.forEach((b, k) => {
      index[rowStart[r]! + k] = b;
      value[rowStart[r]! + k] = v;
    });
  });
  return { rows: selected.length, rowStart, index, value };
}

function mmluApgr(score: (i: number) => number): string {
  return foldAveragedApgr(rows, folds, FOLDS, 'mmlu', score).toFixed(4);
}

const withDifficulty = process.argv.includes('--difficulty');
const t0 = performance.now();
const v1Raw = crossValidatedRaw(matrixOf(rows, config.open.hashBits), rows, folds, FOLDS, openTrainingConfig(config));
console.log(`MMLU APGR, development CV (${FOLDS} folds, seed 3, ${rows.length} rows)`);
console.log(`learned-v1 alone: ${mmluApgr((i) => v1Raw[i]!)}  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
console.log(['head'.padEnd(14), 'alone ', ...WEIGHTS.map((w) => `v1+${w}x  `)].join(' '));

// With --difficulty: logit((1 + P(strong right) - P(weak right)) / 2) from two v1-style models fitted on the
// other folds' MMLU rows, added to v1 + 3 x head with weight beta.
let difficulty: Float64Array | undefined;
if (withDifficulty) {
  const matrix = matrixOf(rows, config.open.hashBits);
  difficulty = new Float64Array(rows.length);
  const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
  for (let f = 0; f < FOLDS; f++) {
    const train: number[] = [];
    const test: number[] = [];
    rows.forEach((r, i) => {
      if (r.bench === 'mmlu') (folds[i] === f ? test : train).push(i);
    });
    const fit = (label: (i: number) => number) =>
      trainLogistic(
        selectRows(matrix, train),
        train.map(label),
        train.map(() => 1),
        config.open,
      );
    const held = selectRows(matrix, test);
    const w = predictRaw(
      fit((i) => 2 * rows[i]!.weak - 1),
      held,
    );
    const s = predictRaw(
      fit((i) => 2 * rows[i]!.strong - 1),
      held,
    );
    test.forEach((i, k) => {
      const p = Math.min(0.995, Math.max(0.005, (1 + sigmoid(s[k]!) - sigmoid(w[k]!)) / 2));
      difficulty![i] = Math.log(p / (1 - p));
    });
  }
  console.log(
    `difficulty models fitted (${((performance.now() - t0) / 1000).toFixed(0)} s); P(s)-P(w) alone: ${mmluApgr((i) => difficulty![i]!)}`,
  );
}

for (const variant of variants) {
  const lists = rows.map((r, i) => (quiz[i] ? inputsOf(r.prompt, variant.words, variant.bigrams, variant.bits) : []));
  const mix = new Float64Array(rows.length);
  let correct = 0;
  let quizzes = 0;
  for (let f = 0; f < FOLDS; f++) {
    const train: number[] = [];
    const test: number[] = [];
    folds.forEach((x, i) => {
      if (quiz[i]) (x === f ? test : train).push(i);
    });
    const gains = classGains(
      rows,
      rows.map((_, i) => i).filter((i) => folds[i] !== f),
      classes,
      config.categoryPrior,
    );
    if (variant.name === 'true') {
      for (const i of test) mix[i] = gains[classIndex.get(categoryOf(rows[i]!))!]!;
      continue;
    }
    const labels = train.map((i) => classIndex.get(categoryOf(rows[i]!)) ?? -1);
    const head = trainHeadOnRows(headRowsOf(train, lists), variant.bits, labels, C, {
      ...config.head,
      l2: variant.l2,
    });
    const held = headRowsOf(test, lists);
    const z = new Float64Array(C);
    test.forEach((i, k) => {
      mix[i] = mixOf(head, gains, held.index, held.value, held.rowStart[k]!, held.rowStart[k + 1]!, z);
      // Top-1 subject accuracy of the head, for the record.
      let best = 0;
      for (let c = 1; c < C; c++) if (z[c]! > z[best]!) best = c;
      quizzes++;
      if (best === classIndex.get(categoryOf(rows[i]!))) correct++;
    });
  }
  const cells = [mmluApgr((i) => mix[i]!), ...WEIGHTS.map((w) => mmluApgr((i) => v1Raw[i]! + w * mix[i]!))];
  if (difficulty) {
    for (const beta of [0.5, 1, 2, 4])
      cells.push(`d${beta}:${mmluApgr((i) => v1Raw[i]! + 3 * mix[i]! + beta * difficulty[i]!)}`);
  }
  console.log(
    [variant.name.padEnd(14), ...cells].join(' ') +
      `   subject top-1 ${((100 * correct) / Math.max(1, quizzes)).toFixed(1)}% (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
}
