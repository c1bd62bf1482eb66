/**
 * Development-CV study (eighth round, log.md): does modelling each model's correctness apart
 * (score = P(strong right) - P(weak right)) rank MMLU quizzes better than the gain model, whose soft label
 * (1 + gain) / 2 treats "both right" and "both wrong" alike and so throws away what they say about a
 * question's difficulty?
 *
 * Development rows only, 5 folds, fold seed 3, MMLU APGR per fold averaged; models fitted on the other
 * folds' MMLU rows only (v1's features and trainer). Subject information enters as one sparse entry per
 * subject: the true subject when training, at test time either the true subject (a ceiling) or the
 * probabilities of a binary-input subject head (learned-v5's, fitted on the other folds).
 * Not part of the product: `node research/routing/dev-cv-difficulty.ts`.
 */
import { hashString } from '../../src/router/auto/hash.ts';
import { assignFolds, defaultDataDir, loadPairs, lockboxMask } from './offline/dataset.ts';
import { foldAveragedApgr } from './offline/evaluate-pairs.ts';
import { type FeatureMatrix, predictRaw, selectRows, trainLogistic } from './offline/train.ts';
import { trainHeadOnRows } from './offline/train-head.ts';
import { DEFAULT_ROUTER_TRAINING, matrixOf } from './offline/train-router.ts';
import { DEFAULT_SUBJECT_HEAD, headRowsOf, subjectHeadData } from './offline/train-subject-head.ts';

const FOLDS = 5;
const all = loadPairs(defaultDataDir()).rows;
const lockbox = lockboxMask(all);
const rows = all.filter((_, i) => !lockbox[i]);
const folds = assignFolds(rows, FOLDS, 3);
const opts = DEFAULT_ROUTER_TRAINING.train;
const matrix = matrixOf(rows, opts.hashBits);
const data = subjectHeadData(rows, DEFAULT_SUBJECT_HEAD);
const C = data.classes.length;
const mask = (1 << opts.hashBits) - 1;
const subjectBucket = Int32Array.from(data.classes, (c) => hashString(`subject:${c}`) & mask);

/** The matrix with subject entries appended to each row: `probs(i)` gives the C weights of row i. */
function withSubjects(selected: readonly number[], probs: (i: number) => ArrayLike<number>): FeatureMatrix {
  const base = selectRows(matrix, selected);
  const rowStart = new Int32Array(selected.length + 1);
  const index = new Int32Array(base.index.length + selected.length * C);
  const value = new Float64Array(index.length);
  let at = 0;
  selected.forEach((i, k) => {
    const from = base.rowStart[k]!;
    const to = base.rowStart[k + 1]!;
    index.set(base.index.subarray(from, to), at);
    value.set(base.value.subarray(from, to), at);
    at += to - from;
    const p = probs(i);
    for (let c = 0; c < C; c++) {
      if (p[c] === 0) continue;
      index[at] = subjectBucket[c]!;
      value[at] = p[c]!;
      at++;
    }
    rowStart[k + 1] = at;
  });
  return { ...base, rowStart, index: index.slice(0, at), value: value.slice(0, at) };
}

function oneHot(i: number): Float64Array {
  const p = new Float64Array(C);
  p[data.labels[i]!] = 1;
  return p;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const scores = new Map<string, Float64Array>();
const score = (name: string) => {
  const s = scores.get(name) ?? new Float64Array(rows.length);
  scores.set(name, s);
  return s;
};
const t0 = performance.now();
for (let f = 0; f < FOLDS; f++) {
  const train: number[] = [];
  const test: number[] = [];
  rows.forEach((r, i) => {
    if (r.bench === 'mmlu' && data.quiz[i]) (folds[i] === f ? test : train).push(i);
  });
  const ones = train.map(() => 1);
  const fit = (m: FeatureMatrix, label: (i: number) => number) => trainLogistic(m, train.map(label), ones, opts);
  const gain = (i: number) => rows[i]!.gain;
  const weak = (i: number) => 2 * rows[i]!.weak - 1;
  const strong = (i: number) => 2 * rows[i]!.strong - 1;

  // Subject head probabilities for the held-out rows.
  const head = trainHeadOnRows(
    headRowsOf(data, train),
    DEFAULT_SUBJECT_HEAD.headBits,
    train.map((i) => data.labels[i]!),
    C,
    DEFAULT_SUBJECT_HEAD,
  );
  const held = headRowsOf(data, test);
  const probs = new Map<number, Float64Array>();
  test.forEach((i, k) => {
    const z = Float64Array.from(head.bias);
    for (let e = held.rowStart[k]!; e < held.rowStart[k + 1]!; e++)
      for (let c = 0; c < C; c++) z[c] = z[c]! + head.weights[held.index[e]! * C + c]! * held.value[e]!;
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, z[c]!);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += z[c] = Math.exp(z[c]! - max);
    for (let c = 0; c < C; c++) z[c] = z[c]! / sum;
    probs.set(i, z);
  });

  const plainTrain = selectRows(matrix, train);
  const plainTest = selectRows(matrix, test);
  const subjTrain = withSubjects(train, oneHot);
  const subjTrue = withSubjects(test, oneHot);
  const subjHead = withSubjects(test, (i) => probs.get(i)!);
  const put = (name: string, values: ArrayLike<number>) => {
    const s = score(name);
    test.forEach((i, k) => {
      s[i] = values[k]!;
    });
  };
  const g = fit(plainTrain, gain);
  const w = fit(plainTrain, weak);
  const s = fit(plainTrain, strong);
  put('gain', predictRaw(g, plainTest));
  const pw = predictRaw(w, plainTest);
  const ps = predictRaw(s, plainTest);
  put(
    'P(s)-P(w)',
    Float64Array.from(ps, (v, k) => sigmoid(v) - sigmoid(pw[k]!)),
  );
  const gS = fit(subjTrain, gain);
  const wS = fit(subjTrain, weak);
  const sS = fit(subjTrain, strong);
  // Mixture outside the sigmoid: E over the head's subjects of P(s) - P(w) (and of the gain model's
  // sigmoid), each subject's intercept being its entry's weight.
  {
    const gl = predictRaw(gS, plainTest);
    const wl = predictRaw(wS, plainTest);
    const sl = predictRaw(sS, plainTest);
    const mixed = (which: 'head' | 'true') =>
      test.map((i, k) => {
        const p = which === 'head' ? probs.get(i)! : oneHot(i);
        let gain = 0;
        let diff = 0;
        for (let c = 0; c < C; c++) {
          if (p[c] === 0) continue;
          const b = subjectBucket[c]!;
          gain += p[c]! * sigmoid(gl[k]! + gS.sparse[b]!);
          diff += p[c]! * (sigmoid(sl[k]! + sS.sparse[b]!) - sigmoid(wl[k]! + wS.sparse[b]!));
        }
        return [gain, diff] as const;
      });
    for (const which of ['head', 'true'] as const) {
      const out = mixed(which);
      put(
        `E_head[gain model] (${which})`,
        out.map((x) => x[0]),
      );
      put(
        `E_head[P(s)-P(w)] (${which})`,
        out.map((x) => x[1]),
      );
    }
  }
  for (const [tag, m] of [
    ['true subject', subjTrue],
    ['head subject', subjHead],
  ] as const) {
    put(`gain + ${tag}`, predictRaw(gS, m));
    const a = predictRaw(wS, m);
    const b = predictRaw(sS, m);
    put(
      `P(s)-P(w) + ${tag}`,
      Float64Array.from(b, (v, k) => sigmoid(v) - sigmoid(a[k]!)),
    );
  }
  console.error(`fold ${f + 1}/${FOLDS} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

function mmluApgr(s: Float64Array): string {
  return foldAveragedApgr(
    rows,
    folds,
    FOLDS,
    'mmlu',
    (i) => s[i]!,
    (i) => data.quiz[i]!,
  ).toFixed(4);
}
console.log(`MMLU APGR, development CV (${FOLDS} folds, seed 3), models fitted on MMLU rows only`);
for (const [name, s] of scores) console.log(`${name.padEnd(34)} ${mmluApgr(s)}`);
