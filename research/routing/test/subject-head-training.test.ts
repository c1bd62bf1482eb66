import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { modelFromAsset, readRouterAsset } from '../../../src/router/auto/asset.ts';
import { createFeatureBuffer, EMPTY_CONTEXT, extractFeatures } from '../../../src/router/auto/features.ts';
import { createLearnedTierChooser } from '../../../src/router/auto/learned.ts';
import { createScorer } from '../../../src/router/auto/model.ts';
import {
  createSubjectHeadScratch,
  type SubjectHead,
  subjectHeadFromAsset,
  subjectHeadInputs,
  subjectHeadOffset,
} from '../../../src/router/auto/subject-head.ts';
import { chat } from '../../../test/router/helpers.ts';
import { decodeHead } from '../asset-v2.ts';
import { mixOf } from '../model-v2.ts';
import { assetFiles, encodeHead } from '../offline/asset-writer.ts';
import type { PairRow } from '../offline/dataset.ts';
import { seededRandom } from '../offline/numeric.ts';
import { type RouterTrainingConfig, trainRouter } from '../offline/train-router.ts';
import {
  DEFAULT_SUBJECT_HEAD,
  fitSubjectHead,
  type SubjectHeadOptions,
  subjectHeadData,
} from '../offline/train-subject-head.ts';
import { DEFAULT_WORD_PROBLEM } from '../offline/train-word-problem.ts';
import { createTokenScan, KIND_WORD, resetScan, scanTokens } from '../token-scan.ts';

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
 * so only the subject carries the signal (as in MMLU, log.md).
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

describe('subject head training (learned-v5)', () => {
  it("reads the word hashes learned-v2's token scan computes, word for word (the same tokenisation)", () => {
    const buffer = createFeatureBuffer(16);
    const text = 'Which planet has the most moons? The planet Saturn.\nA. Mars\nB. Saturn\nC. Venus\nD. Earth';
    extractFeatures(text, EMPTY_CONTEXT, buffer);
    const scan = createTokenScan(1024);
    resetScan(scan);
    scanTokens(text, 0, text.length, scan, false);
    const words = Array.from(scan.hash.subarray(0, scan.count)).filter((_, t) => scan.kind[t] === KIND_WORD);
    assert.deepEqual(Array.from(buffer.words.subarray(0, buffer.wordCount)), words);
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
      }
    }
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
});
