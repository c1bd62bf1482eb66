import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PRESETS, type Tier } from '../../../src/core/tiers.ts';
import { modelFromAsset, readRouterAsset } from '../../../src/router/auto/asset.ts';
import { DENSE_SIZE, EMPTY_CONTEXT, READ_CHARS } from '../../../src/router/auto/features.ts';
import { createScorer } from '../../../src/router/auto/model.ts';
import {
  createWordProblemScratch,
  readWordProblem,
  WORD_PROBLEM_FEATURES,
  wordProblemOffset,
} from '../../../src/router/auto/word-problem.ts';
import { chat, SAMPLE_PROMPTS } from '../../../test/router/helpers.ts';
import { modelFromAssetV2, readRouterAssetV2 } from '../asset-v2.ts';
import { createFeatureBufferV2, extractFeaturesV2 } from '../features-v2.ts';
import { combineParts, createScorerV2, isMultipleChoice, mixOf, type RouterModelV2 } from '../model-v2.ts';
import { idfFromLevels } from '../offline/matrix-v2.ts';
import { seededRandom } from '../offline/numeric.ts';
import { chooserOf, WEIGHTS } from '../versions.ts';

const RANK: Record<Tier, number> = { utility: 0, fast: 1, deep: 2 };

describe('retired weights assets (weights/)', () => {
  it('are named after their version, and v1 and v4 read as the shipped format', () => {
    for (const version of ['v1', 'v4'] as const) {
      const asset = readRouterAsset(WEIGHTS[version]);
      assert.equal(asset.name, `learned-${version}`);
      assert.equal(modelFromAsset(asset).sparse.length, 1 << asset.hashBits);
    }
    for (const version of ['v2', 'v3'] as const)
      assert.equal(readRouterAssetV2(WEIGHTS[version]).name, `learned-${version}`);
    for (const version of ['v5', 'v4', 'v3', 'v2', 'v1'] as const)
      assert.equal(chooserOf(version).name, `learned-${version}`);
  });

  it('record the window they were trained on, and an asset trained on another window is refused', () => {
    const v1 = readRouterAsset(WEIGHTS.v1);
    assert.equal(v1.readChars, READ_CHARS);
    for (const version of ['v2', 'v3'] as const) {
      const asset = readRouterAssetV2(WEIGHTS[version]);
      assert.equal(asset.readChars, READ_CHARS);
      assert.throws(() => modelFromAssetV2({ ...asset, readChars: undefined }), /2048-character window/);
    }
  });
});

describe('learned-v2 chooser (weights/weights-v2.json)', () => {
  const v2 = chooserOf('v2');

  it('loads a small asset that matches this code', () => {
    const asset = readRouterAssetV2(WEIGHTS.v2);
    assert.equal(asset.name, 'learned-v2');
    assert.equal(asset.featureVersion, 2);
    assert.ok(statSync(WEIGHTS.v2).size < 4 * 1024 * 1024);
    const model = modelFromAssetV2(asset);
    assert.equal(model.sparse.length, 1 << asset.features.hashBits);
    assert.equal(model.idf.levels.length, 1 << asset.features.hashBits);
    assert.equal(model.head.weights.length, (1 << asset.features.headBits) * asset.head.classes.length);
    // The head's classes are the 57 MMLU subjects: it reads multiple-choice prompts only.
    assert.equal(asset.head.classes.length, 57);
    assert.ok(asset.head.classes.every((c) => c.startsWith('mmlu/')));
    assert.equal(model.open.sparse.length, 1 << asset.open.hashBits);
    for (let i = 1; i < model.knotsRaw.length; i++) assert.ok(model.knotsRaw[i]! > model.knotsRaw[i - 1]!);
    assert.throws(() => modelFromAssetV2({ ...asset, dense: asset.dense.slice(1) }), /dense/);
    assert.throws(() => modelFromAssetV2({ ...asset, head: { ...asset.head, bias: [] } }), /head/);
  });

  it('is named learned-v2', () => {
    assert.equal(v2.name, 'learned-v2');
    assert.equal(v2.choose(chat('hi'), 'balanced').chooser, 'learned-v2');
  });

  it('gives every prompt a finite score in [0, 1], the same each time, presets in order', () => {
    for (const text of [...SAMPLE_PROMPTS, '🙂 ünïcödé テキスト '.repeat(500), 'A. x\nB. y\n'.repeat(300)]) {
      const a = v2.choose(chat(text), 'balanced');
      assert.ok(Number.isFinite(a.score) && a.score >= 0 && a.score <= 1, `score ${a.score}`);
      assert.deepEqual(v2.choose(chat(text), 'balanced'), a);
      const [cheapest, balanced, quality] = PRESETS.map((p) => RANK[v2.choose(chat(text), p).tier]);
      assert.ok(cheapest! <= balanced! && balanced! <= quality!);
    }
  });

  it('ranks a moral-scenarios quiz above a high-school-mathematics quiz, as the training subjects do', () => {
    // moral_scenarios is where GPT-4 gains most over Mixtral in RouteLLM's MMLU data, high-school
    // mathematics where it loses (log.md); neither question is in the training data.
    const moral =
      'For which of these two scenarios does the main character (who uses I/me/my) do something clearly ' +
      'morally wrong, according to ordinary moral standards in the US as of 2020? Scenario 1 | I borrowed my ' +
      "neighbour's ladder and returned it the next day. Scenario 2 | I read my sister's diary to tease her.\n" +
      'A. Wrong, Wrong\nB. Wrong, Not wrong\nC. Not wrong, Wrong\nD. Not wrong, Not wrong\nAnswer:';
    const maths =
      'What is the sum of all positive integer values of n such that n^2 - 3n + 2 divides 12?\nA. 5\nB. 6\nC. 7\nD. 9\nAnswer:';
    assert.ok(v2.score(chat(moral)) > v2.score(chat(maths)));
  });
});

/**
 * The quiz path as the trainer computes it: its idf table (idfFromLevels) and weighing (weighEntries, through
 * extractFeaturesV2), the text model's linear sum, and the head's mix (mixOf, which train-head.ts shares).
 */
function referenceQuizRaw(model: RouterModelV2, text: string): number {
  const buffer = createFeatureBufferV2(model.spec);
  extractFeaturesV2(text, EMPTY_CONTEXT, buffer, idfFromLevels(model.idf.levels));
  let textPart = model.bias;
  for (let i = 0; i < DENSE_SIZE; i++) textPart += model.dense[i]! * buffer.dense[i]!;
  for (let k = 0; k < buffer.count; k++) textPart += model.sparse[buffer.index[k]!]! * buffer.value[k]!;
  if (!buffer.choice) return textPart;
  const index: number[] = [];
  const value: number[] = [];
  for (let k = 0; k < buffer.count; k++) {
    if (buffer.head[k]! < 0) continue;
    index.push(buffer.head[k]!);
    value.push(buffer.value[k]!);
  }
  const z = new Float64Array(model.head.classes);
  return combineParts(textPart, mixOf(model.head, model.head.gains, index, value, 0, index.length, z), model.mixWeight);
}

/** Quizzes of every length: subject words, numbers, symbols, repeats, non-ASCII, option lines. */
function syntheticQuizzes(count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const words = (
    'which of the following best describes mitochondria enzyme velocity momentum statute tort plaintiff ' +
    'sonnet stanza integral derivative matrix eigenvalue gdp inflation tariff neuron synapse café naïve ' +
    'scenario wrong morally 12 3.5 1,000 x^2 = + ( ) ; ? . , the a of in is'
  ).split(' ');
  return Array.from({ length: count }, () => {
    const length = Math.floor(random() ** 2 * 900) + 3;
    const stem = Array.from({ length }, () => words[Math.floor(random() * words.length)]!).join(' ');
    const options = ['A', 'B', 'C', 'D'].map(
      (l) => `${l}${random() < 0.5 ? '.' : ')'} ${words[Math.floor(random() * words.length)]}`,
    );
    return `${stem}?\n${options.join('\n')}\nAnswer:`;
  });
}

describe('learned-v3 chooser (weights/weights-v3.json)', () => {
  const v3 = chooserOf('v3');
  const v2 = chooserOf('v2');
  const problem =
    'A baker makes 48 muffins. She sells half of them in the morning and a third of the remaining ones in the ' +
    'afternoon, then bakes 12 more. How many muffins does she have at the end of the day?';

  it("loads v2's quiz and open models plus a word-problem head", () => {
    const asset = readRouterAssetV2(WEIGHTS.v3);
    assert.equal(asset.name, 'learned-v3');
    assert.deepEqual(asset.wordProblem?.features, [...WORD_PROBLEM_FEATURES]);
    const v2Asset = readRouterAssetV2(WEIGHTS.v2);
    assert.deepEqual(asset.sparse, v2Asset.sparse);
    assert.deepEqual(asset.head, v2Asset.head);
    assert.deepEqual(asset.open, v2Asset.open);
    assert.equal(v3.name, 'learned-v3');
    assert.equal(v3.choose(chat('hi'), 'balanced').chooser, 'learned-v3');
  });

  it('scores quizzes exactly as the trainer computes them (fused quiz path)', () => {
    const model = modelFromAssetV2(readRouterAssetV2(WEIGHTS.v3));
    const raw = createScorerV2(model).raw;
    const quizzes = [...SAMPLE_PROMPTS, ...syntheticQuizzes(300, 17)].filter(isMultipleChoice);
    assert.ok(quizzes.length > 300);
    assert.ok(quizzes.some((q) => q.length > 4000));
    // Twice over: the scorer reuses its buffers, so a second pass checks that nothing leaks between calls.
    for (let pass = 0; pass < 2; pass++)
      for (const quiz of quizzes)
        assert.equal(raw(quiz, EMPTY_CONTEXT), referenceQuizRaw(model, quiz), quiz.slice(0, 60));
  });

  it('reads quizzes and chat as v2 does (same raw output) and word problems with its head', () => {
    const raw3 = createScorerV2(modelFromAssetV2(readRouterAssetV2(WEIGHTS.v3))).raw;
    const raw2 = createScorerV2(modelFromAssetV2(readRouterAssetV2(WEIGHTS.v2))).raw;
    const scratch = createWordProblemScratch();
    let problems = 0;
    for (const text of SAMPLE_PROMPTS) {
      if (readWordProblem(text, scratch)) {
        problems++;
        assert.notEqual(raw3(text, EMPTY_CONTEXT), raw2(text, EMPTY_CONTEXT), text.slice(0, 40));
      } else assert.equal(raw3(text, EMPTY_CONTEXT), raw2(text, EMPTY_CONTEXT), text.slice(0, 40));
    }
    assert.ok(problems >= 1 && problems < SAMPLE_PROMPTS.length - 4, `${problems} word problems`);
    assert.notEqual(raw3(problem, EMPTY_CONTEXT), raw2(problem, EMPTY_CONTEXT));
    const s = v3.score(chat(problem));
    assert.ok(Number.isFinite(s) && s >= 0 && s <= 1);
    assert.notEqual(s, v2.score(chat(problem)));
  });
});

describe('learned-v4 chooser (weights/weights-v4.json)', () => {
  const asset = readRouterAsset(WEIGHTS.v4);
  const v1Asset = readRouterAsset(WEIGHTS.v1);
  const v3Asset = readRouterAssetV2(WEIGHTS.v3);

  it("is learned-v1's model plus learned-v3's word-problem head, with its own calibration curve", () => {
    assert.equal(asset.name, 'learned-v4');
    assert.equal(chooserOf('v4').name, 'learned-v4');
    assert.equal(asset.readChars, READ_CHARS);
    assert.deepEqual(
      { sparse: asset.sparse, bias: asset.bias, dense: asset.dense, hashBits: asset.hashBits },
      { sparse: v1Asset.sparse, bias: v1Asset.bias, dense: v1Asset.dense, hashBits: v1Asset.hashBits },
    );
    assert.deepEqual(asset.wordProblem, v3Asset.wordProblem);
    assert.notDeepEqual(asset.calibration, v1Asset.calibration);
  });

  it("gives v1's raw output on quizzes and chat, and v1's plus v3's offset on word problems", () => {
    const v4 = createScorer(modelFromAsset(asset)).raw;
    const v1 = createScorer(modelFromAsset(v1Asset)).raw;
    const head = modelFromAssetV2(v3Asset).wordProblem!;
    const scratch = createWordProblemScratch();
    let problems = 0;
    for (const text of [...SAMPLE_PROMPTS, ...syntheticQuizzes(50, 3)]) {
      if (readWordProblem(text, scratch)) {
        problems++;
        assert.equal(v4(text, EMPTY_CONTEXT), v1(text, EMPTY_CONTEXT) + wordProblemOffset(head, scratch.features));
      } else assert.equal(v4(text, EMPTY_CONTEXT), v1(text, EMPTY_CONTEXT), text.slice(0, 40));
    }
    assert.ok(problems >= 1, `${problems} word problems`);
  });
});

describe('learned-v5 against learned-v4', () => {
  it("is learned-v4's model byte for byte plus the subject head, with its own calibration curve", () => {
    const asset = readRouterAsset(WEIGHTS.v5);
    const v4Asset = readRouterAsset(WEIGHTS.v4);
    assert.deepEqual(
      { s: asset.sparse, b: asset.bias, d: asset.dense, h: asset.hashBits, wp: asset.wordProblem },
      { s: v4Asset.sparse, b: v4Asset.bias, d: v4Asset.dense, h: v4Asset.hashBits, wp: v4Asset.wordProblem },
    );
    assert.notDeepEqual(asset.calibration, v4Asset.calibration);
    // Without its subject head v5 computes v4's raw output on every prompt.
    const v4 = createScorer(modelFromAsset(v4Asset)).raw;
    const v5WithoutHead = createScorer(modelFromAsset({ ...asset, subjectHead: undefined })).raw;
    for (const text of [...SAMPLE_PROMPTS, ...syntheticQuizzes(30, 5)])
      assert.equal(v5WithoutHead(text, EMPTY_CONTEXT), v4(text, EMPTY_CONTEXT));
  });
});
