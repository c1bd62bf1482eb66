import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assetFiles, DEFAULT_ASSET_V5_URL, modelFromAsset, readRouterAsset } from '../../src/router/auto/asset.ts';
import { decodeHead, encodeHead } from '../../src/router/auto/asset-v2.ts';
import { createLearnedTierChooser } from '../../src/router/auto/chooser.ts';
import { createFeatureBuffer, EMPTY_CONTEXT, extractFeatures } from '../../src/router/auto/features.ts';
import { createScorer } from '../../src/router/auto/model.ts';
import { mixOf } from '../../src/router/auto/model-v2.ts';
import type { PairRow } from '../../src/router/auto/offline/dataset.ts';
import { seededRandom } from '../../src/router/auto/offline/numeric.ts';
import { type RouterTrainingConfig, trainRouter } from '../../src/router/auto/offline/train-router.ts';
import {
  DEFAULT_SUBJECT_HEAD,
  fitSubjectHead,
  type SubjectHeadOptions,
  subjectHeadData,
} from '../../src/router/auto/offline/train-subject-head.ts';
import { DEFAULT_WORD_PROBLEM } from '../../src/router/auto/offline/train-word-problem.ts';
import {
  createSubjectHeadScratch,
  MAX_HEAD_WORDS,
  type SubjectHead,
  subjectHeadFromAsset,
  subjectHeadInputs,
  subjectHeadOffset,
} from '../../src/router/auto/subject-head.ts';
import { createTokenScan, KIND_WORD, resetScan, scanTokens } from '../../src/router/auto/token-scan.ts';
import { chat } from './helpers.ts';

const SMALL: RouterTrainingConfig = {
  train: { hashBits: 12, l2Sparse: 1e-3, l2Dense: 1e-3, maxIterations: 60 },
  benchWeights: { mmlu: 1, gsm8k: 1, mt_bench: 2 },
  calibrationFolds: 3,
  seed: 1,
};
const SMALL_HEAD: SubjectHeadOptions = { ...DEFAULT_SUBJECT_HEAD, headBits: 10, maxIterations: 60, l2: 1e-3 };

/**
 * Quizzes of two subjects with their own vocabularies: in "astronomy" the strong model gains, in
 * "nutrition" both models score alike. No word of either vocabulary tells the difficulty of one question,
 * so only the subject carries the signal (as in MMLU, docs/routing.md).
 */
function syntheticQuizzes(count: number, seed: number): PairRow[] {
  const random = seededRandom(seed);
  const vocab = {
    astronomy: 'star planet orbit galaxy comet telescope nebula redshift'.split(' '),
    nutrition: 'vitamin protein fibre calorie diet mineral meal sugar'.split(' '),
  };
  const filler = 'which of the following is most likely true about a an'.split(' ');
  const pick = (list: string[]) => list[Math.floor(random() * list.length)]!;
  return Array.from({ length: count }, (_, i) => {
    const subject = i % 2 === 0 ? 'astronomy' : 'nutrition';
    const words = Array.from({ length: 12 }, () => (random() < 0.5 ? pick(vocab[subject]) : pick(filler)));
    const options = ['A', 'B', 'C', 'D'].map((l) => `${l}. ${pick(vocab[subject])} ${pick(filler)}`);
    const weak = random() < 0.6 ? 1 : 0;
    const strong = subject === 'astronomy' ? (random() < 0.95 ? 1 : 0) : weak;
    return {
      bench: 'mmlu',
      id: `quiz/${i}`,
      prompt: `${words.join(' ')} ${i}?\n${options.join('\n')}\nAnswer:`,
      category: subject,
      weak,
      strong,
      gain: strong - weak,
    };
  });
}

function openRows(count: number, seed: number): PairRow[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const hard = random() < 0.5;
    const weak = hard ? 0 : 1;
    return {
      bench: i % 2 ? 'gsm8k' : 'mt_bench',
      id: `open/${i}`,
      prompt: hard ? `prove the theorem about object ${i}` : `say hello to friend ${i}`,
      category: i % 2 ? 'math' : 'writing',
      weak,
      strong: 1,
      gain: 1 - weak,
    };
  });
}

/** A head with random int8 weights over `classes` classes (and those weights), for the arithmetic checks. */
function randomHead(
  seed: number,
  classes: number,
  headBits = 8,
  words = 16,
): { head: SubjectHead; weights: Int8Array } {
  const random = seededRandom(seed);
  const float = Float32Array.from({ length: (1 << headBits) * classes }, () => (random() - 0.5) * 4);
  const { scales, data } = encodeHead(float, classes);
  const stored = {
    headBits,
    words,
    classes: Array.from({ length: classes }, (_, c) => `mmlu/s${c}`),
    encoding: 'int8-base64' as const,
    scales,
    data,
    bias: Array.from({ length: classes }, () => random() - 0.5),
    gains: Array.from({ length: classes }, () => (random() - 0.5) * 2),
    weight: 3,
  };
  return { head: subjectHeadFromAsset(stored), weights: decodeHead(stored, headBits) };
}

/** subjectHeadOffset with plain integer sums of the int8 weights, one class at a time. */
function plainOffset(head: SubjectHead, weights: Int8Array, buckets: ArrayLike<number>, m: number): number {
  const C = head.classes;
  const sums = new Float64Array(C);
  for (let k = 0; k < m; k++) for (let c = 0; c < C; c++) sums[c] = sums[c]! + weights[buckets[k]! * C + c]!;
  const v = 1 / Math.sqrt(m);
  const z = Array.from(sums, (sum, c) => head.bias[c]! + head.scales[c]! * (sum * v));
  const max = Math.max(...z);
  let total = 0;
  let mix = 0;
  z.forEach((x, c) => {
    const e = Math.exp(x - max);
    total += e;
    mix += e * head.gains[c]!;
  });
  return head.weight * (mix / total);
}

describe('subject head (learned-v5)', () => {
  it('reads the first distinct word buckets of the words the scan hashed, in order', () => {
    const buffer = createFeatureBuffer(16);
    const text = 'Which planet has the most moons? The planet Saturn.\nA. Mars\nB. Saturn\nC. Venus\nD. Earth';
    extractFeatures(text, EMPTY_CONTEXT, buffer);
    assert.equal(buffer.choice, true);
    // The scan's word hashes are those of the v2 token scan (the same tokenisation), word for word.
    const scan = createTokenScan(1024);
    resetScan(scan);
    scanTokens(text, 0, text.length, scan, false);
    const words = Array.from(scan.hash.subarray(0, scan.count)).filter((_, t) => scan.kind[t] === KIND_WORD);
    assert.deepEqual(Array.from(buffer.words.subarray(0, buffer.wordCount)), words);

    const head = { headBits: 14, words: 5 };
    const scratch = createSubjectHeadScratch({ ...head, classes: 2 });
    const m = subjectHeadInputs(head, buffer.words, buffer.wordCount, scratch);
    const expected: number[] = [];
    for (const w of words) {
      const b = w >>> 18;
      if (!expected.includes(b) && expected.length < 5) expected.push(b);
    }
    assert.equal(m, 5);
    assert.deepEqual(Array.from(scratch.buckets.subarray(0, m)), expected);
    // A second prompt with the same scratch starts afresh (the stamps are per prompt).
    assert.equal(subjectHeadInputs(head, buffer.words, buffer.wordCount, scratch), 5);
    assert.deepEqual(Array.from(scratch.buckets.subarray(0, 5)), expected);
    // Repeated words count once: "planet" appears twice in the first sentence.
    const few = subjectHeadInputs({ headBits: 14, words: 64 }, buffer.words, buffer.wordCount, scratch);
    assert.equal(few, new Set(words.map((w) => w >>> 18)).size);
    assert.ok(few < words.length);
  });

  it("computes the trainer's mix (mixOf on the stored weights, 1/sqrt(m) per input) times its weight", () => {
    for (const classes of [7, 57, 58]) {
      const { head, weights } = randomHead(5 + classes, classes);
      const scratch = createSubjectHeadScratch(head);
      const random = seededRandom(9);
      const z = new Float64Array(head.classes);
      const stored = { classes: head.classes, weights, scales: head.scales, bias: head.bias };
      for (let trial = 0; trial < 200; trial++) {
        const m = 1 + Math.floor(random() * head.words);
        for (let k = 0; k < m; k++) scratch.buckets[k] = Math.floor(random() * (1 << head.headBits));
        const value = new Float64Array(m).fill(1 / Math.sqrt(m));
        const expected = head.weight * mixOf(stored, head.gains, scratch.buckets.subarray(0, m), value, 0, m, z);
        const got = subjectHeadOffset(head, scratch, m);
        assert.ok(Math.abs(got - expected) <= 1e-12 * Math.max(1, Math.abs(expected)), `${got} vs ${expected}`);
        // The packed three-lane sums are the plain integer sums: the same number, bit for bit.
        assert.equal(got, plainOffset(head, weights, scratch.buckets, m));
      }
      assert.equal(subjectHeadOffset(head, scratch, 0), 0);
    }
  });

  it('keeps the packed lane sums exact at the extreme weights and the most words a head may read', () => {
    const classes = 5;
    const headBits = 4;
    const weights = Int8Array.from({ length: (1 << headBits) * classes }, (_, i) => (i % 3 === 0 ? -128 : 127));
    const stored = {
      headBits,
      words: MAX_HEAD_WORDS,
      classes: Array.from({ length: classes }, (_, c) => `mmlu/s${c}`),
      encoding: 'int8-base64' as const,
      scales: [0.01, 0.02, 0.03, 0.04, 0.05],
      data: Buffer.from(weights.buffer).toString('base64'),
      bias: [0, 0, 0, 0, 0],
      gains: [1, -1, 0.5, -0.5, 0],
      weight: 1,
    };
    const head = subjectHeadFromAsset(stored);
    const scratch = createSubjectHeadScratch(head);
    // Every bucket read over and over: each lane sums MAX_HEAD_WORDS values of 0 or 255.
    for (let k = 0; k < MAX_HEAD_WORDS; k++) scratch.buckets[k] = k % (1 << headBits);
    assert.equal(
      subjectHeadOffset(head, scratch, MAX_HEAD_WORDS),
      plainOffset(head, weights, scratch.buckets, MAX_HEAD_WORDS),
    );
    assert.throws(() => subjectHeadFromAsset({ ...stored, words: MAX_HEAD_WORDS + 1 }), /subject head: words/);
  });

  it('refuses a stored head whose arrays do not match its classes or table', () => {
    const random = seededRandom(1);
    const float = Float32Array.from({ length: 256 * 3 }, () => random() - 0.5);
    const stored = {
      headBits: 8,
      words: 16,
      classes: ['mmlu/a', 'mmlu/b', 'mmlu/c'],
      encoding: 'int8-base64' as const,
      ...encodeHead(float, 3),
      bias: [0, 0, 0],
      gains: [0.1, 0, -0.1],
      weight: 3,
    };
    assert.equal(subjectHeadFromAsset(stored).classes, 3);
    assert.throws(() => subjectHeadFromAsset({ ...stored, gains: [0, 0] }), /subject head/);
    assert.throws(() => subjectHeadFromAsset({ ...stored, headBits: 9 }), /head weights/);
    assert.throws(() => subjectHeadFromAsset({ ...stored, words: 0 }), /subject head: words/);
  });

  it('learns which subject a quiz is from and moves the subject with the gain up', () => {
    const rows = syntheticQuizzes(300, 3);
    const data = subjectHeadData(rows, SMALL_HEAD);
    assert.deepEqual(data.classes, ['mmlu/astronomy', 'mmlu/nutrition']);
    assert.equal(data.quiz.filter(Boolean).length, 300);
    const head = subjectHeadFromAsset(
      fitSubjectHead(
        rows,
        data,
        rows.map((_, i) => i),
        SMALL_HEAD,
      ),
    );
    assert.ok(head.gains[0]! > 0 && head.gains[0]! > head.gains[1]!, `gains ${Array.from(head.gains)}`);
    const scratch = createSubjectHeadScratch(head);
    const buffer = createFeatureBuffer(16);
    const offset = (text: string) => {
      extractFeatures(text, EMPTY_CONTEXT, buffer);
      return subjectHeadOffset(head, scratch, subjectHeadInputs(head, buffer.words, buffer.wordCount, scratch));
    };
    const unseenAstronomy =
      'Which comet orbit is most likely true about a galaxy?\nA. star\nB. nebula\nC. planet\nD. orbit';
    const unseenNutrition = 'Which vitamin is most likely true about a diet?\nA. protein\nB. fibre\nC. meal\nD. sugar';
    assert.ok(offset(unseenAstronomy) > offset(unseenNutrition) + 0.1);
  });

  it('trains learned-v5: learned-v4 byte for byte plus the subject head, which moves quizzes only', () => {
    const rows = [...syntheticQuizzes(240, 5), ...openRows(120, 6)];
    const v4 = trainRouter(rows, SMALL, {}, () => {}, DEFAULT_WORD_PROBLEM).asset;
    const v5 = trainRouter(rows, SMALL, {}, () => {}, DEFAULT_WORD_PROBLEM, SMALL_HEAD).asset;
    assert.equal(v5.name, 'learned-v5');
    assert.deepEqual(
      { s: v5.sparse, b: v5.bias, d: v5.dense, wp: v5.wordProblem },
      { s: v4.sparse, b: v4.bias, d: v4.dense, wp: v4.wordProblem },
    );
    assert.equal(v4.subjectHead, undefined);
    assert.deepEqual(v5.subjectHead?.classes, ['mmlu/astronomy', 'mmlu/nutrition']);
    assert.notDeepEqual(v5.calibration, v4.calibration);
    const a = createScorer(modelFromAsset(v4)).raw;
    const b = createScorer(modelFromAsset(v5)).raw;
    const head = subjectHeadFromAsset(v5.subjectHead!);
    const scratch = createSubjectHeadScratch(head);
    const buffer = createFeatureBuffer(SMALL.train.hashBits);
    for (const row of rows.slice(0, 40).concat(rows.slice(-40))) {
      extractFeatures(row.prompt, EMPTY_CONTEXT, buffer);
      if (buffer.choice) {
        const m = subjectHeadInputs(head, buffer.words, buffer.wordCount, scratch);
        assert.equal(b(row.prompt, EMPTY_CONTEXT), a(row.prompt, EMPTY_CONTEXT) + subjectHeadOffset(head, scratch, m));
      } else assert.equal(b(row.prompt, EMPTY_CONTEXT), a(row.prompt, EMPTY_CONTEXT), row.prompt);
    }
    const chooser = createLearnedTierChooser({ asset: v5 });
    assert.equal(chooser.choose(chat(rows[0]!.prompt), 'balanced').chooser, 'learned-v5');
    // Reproducible, byte for byte.
    const again = trainRouter(rows, SMALL, {}, () => {}, DEFAULT_WORD_PROBLEM, SMALL_HEAD).asset;
    assert.equal(JSON.stringify(again), JSON.stringify(v5));
  });

  it("keeps a written asset's head in a binary file beside the JSON, checked by its sha256", () => {
    const rows = [...syntheticQuizzes(120, 8), ...openRows(60, 9)];
    const asset = trainRouter(rows, SMALL, {}, () => {}, DEFAULT_WORD_PROBLEM, SMALL_HEAD).asset;
    const dir = mkdtempSync(join(tmpdir(), 'modro-asset-'));
    try {
      const jsonPath = join(dir, 'weights-x.json');
      const files = assetFiles(asset, jsonPath);
      assert.equal(files.head?.path, join(dir, 'weights-x-head.bin'));
      assert.equal(files.head?.bytes.length, (1 << SMALL_HEAD.headBits) * 2);
      assert.equal(JSON.parse(files.json).subjectHead.data, undefined, 'no inline head weights left in the JSON');
      writeFileSync(jsonPath, files.json);
      writeFileSync(files.head!.path, files.head!.bytes);
      const read = readRouterAsset(jsonPath);
      assert.equal(read.subjectHead?.encoding, 'int8-file');
      const fromFile = createScorer(modelFromAsset(read)).raw;
      const inline = createScorer(modelFromAsset(asset)).raw;
      for (const row of rows.slice(0, 30))
        assert.equal(fromFile(row.prompt, EMPTY_CONTEXT), inline(row.prompt, EMPTY_CONTEXT));
      // Without its file the head cannot be built; a changed file is refused.
      const stored = JSON.parse(files.json);
      assert.throws(() => modelFromAsset(stored), /weights-x-head\.bin not read/);
      const bytes = readFileSync(files.head!.path);
      bytes[0] = (bytes[0]! + 1) & 0xff;
      writeFileSync(files.head!.path, bytes);
      assert.throws(() => readRouterAsset(jsonPath), /sha256/);
      // An asset without a head is written as it is.
      assert.equal(assetFiles({ ...asset, subjectHead: undefined }, jsonPath).head, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships learned-v5 with its head in weights-v5-head.bin', () => {
    const asset = readRouterAsset(DEFAULT_ASSET_V5_URL);
    assert.equal(asset.subjectHead?.encoding, 'int8-file');
    assert.equal(asset.subjectHead?.encoding === 'int8-file' && asset.subjectHead.file, 'weights-v5-head.bin');
  });
});
