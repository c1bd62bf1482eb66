import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelFromAsset } from '../../../src/router/auto/asset.ts';
import { EMPTY_CONTEXT } from '../../../src/router/auto/features.ts';
import { createLearnedTierChooser } from '../../../src/router/auto/learned.ts';
import { createScorer } from '../../../src/router/auto/model.ts';
import { chat } from '../../../test/router/helpers.ts';
import { foldOf, type PairRow, parsePairs } from '../offline/dataset.ts';
import { seededRandom } from '../offline/numeric.ts';
import { buildMatrix, predictRaw, trainLogistic } from '../offline/train.ts';
import { type RouterTrainingConfig, trainRouter } from '../offline/train-router.ts';
import { DEFAULT_WORD_PROBLEM } from '../offline/train-word-problem.ts';

/**
 * A synthetic RouteLLM-like set: prompts about "integrals" and "proofs" are where the strong model gains,
 * small talk is where both models do the same. The trainer must find that out.
 */
function syntheticRows(count: number, seed: number): PairRow[] {
  const random = seededRandom(seed);
  const hard = ['evaluate the integral of', 'prove the theorem about', 'derive the closed form of'];
  const easy = ['say hello to', 'what colour is', 'write a greeting for'];
  const nouns = ['the function', 'a sequence', 'my friend', 'the sky', 'a matrix', 'the team', 'this series'];
  const rows: PairRow[] = [];
  for (let i = 0; i < count; i++) {
    const isHard = random() < 0.5;
    const stem = (isHard ? hard : easy)[Math.floor(random() * 3)]!;
    const noun = nouns[Math.floor(random() * nouns.length)]!;
    const weak = isHard ? (random() < 0.3 ? 1 : 0) : random() < 0.9 ? 1 : 0;
    const strong = isHard ? (random() < 0.9 ? 1 : 0) : weak;
    const bench = i % 10 === 0 ? 'mt_bench' : i % 3 === 0 ? 'gsm8k' : 'mmlu';
    rows.push({
      bench,
      id: `synthetic/${i}`,
      prompt: `${stem} ${noun} number ${i}?`,
      category: isHard ? 'hard' : 'easy',
      weak,
      strong,
      gain: strong - weak,
    });
  }
  return rows;
}

const SMALL: RouterTrainingConfig = {
  train: { hashBits: 12, l2Sparse: 1e-3, l2Dense: 1e-3, maxIterations: 60 },
  benchWeights: { mmlu: 1, gsm8k: 1, mt_bench: 2 },
  calibrationFolds: 3,
  seed: 1,
};

describe('router trainer', () => {
  it('learns which prompts gain from the strong model', () => {
    const rows = syntheticRows(400, 7);
    const matrix = buildMatrix(
      rows.map((r) => ({ text: r.prompt })),
      12,
    );
    const weights = trainLogistic(
      matrix,
      rows.map((r) => r.gain),
      rows.map(() => 1),
      SMALL.train,
    );
    const raw = predictRaw(weights, matrix);
    let hard = 0;
    let easy = 0;
    rows.forEach((r, i) => {
      if (r.category === 'hard') hard += raw[i]!;
      else easy += raw[i]!;
    });
    assert.ok(hard / 200 > easy / 200 + 0.5, `hard ${hard / 200} easy ${easy / 200}`);
  });

  it('produces a loadable asset whose chooser ranks unseen hard prompts above easy ones', () => {
    const { asset } = trainRouter(syntheticRows(300, 3), SMALL, { data: 'synthetic' });
    assert.equal(asset.name, 'learned-v1');
    assert.equal(asset.hashBits, 12);
    const model = modelFromAsset(asset);
    const scorer = createScorer(model);
    const hard = scorer.score('prove the theorem about a new object?', EMPTY_CONTEXT);
    const easy = scorer.score('say hello to a new object?', EMPTY_CONTEXT);
    assert.ok(hard > easy, `hard ${hard} easy ${easy}`);
    const chooser = createLearnedTierChooser({ asset });
    const decision = chooser.choose(chat('evaluate the integral of a new function?'), 'balanced');
    assert.ok(decision.score >= 0 && decision.score <= 1);
    assert.equal(decision.chooser, 'learned-v1');
  });

  it("trains learned-v4: v1's weights byte for byte plus a word-problem head and its own calibration", () => {
    const random = seededRandom(21);
    const problems: PairRow[] = Array.from({ length: 120 }, (_, i) => {
      // More quantities and decimals: the weak model fails more often, as in GSM8K.
      const hard = random() < 0.5;
      const prompt = hard
        ? `A shop sells ${i + 3}.5 kg of rice at $${i + 2}.25 per kg, then twice as much flour at $${i}.75. What is the total cost?`
        : `Tom has ${i + 2} apples and buys ${i + 1} more. How many apples does he have?`;
      const weak = hard ? (random() < 0.3 ? 1 : 0) : 1;
      return { bench: 'gsm8k', id: `wp/${i}`, prompt, category: 'gsm8k', weak, strong: 1, gain: 1 - weak };
    });
    const rows = [...syntheticRows(300, 5), ...problems];
    const v1 = trainRouter(rows, SMALL).asset;
    const v4 = trainRouter(rows, SMALL, {}, () => {}, DEFAULT_WORD_PROBLEM).asset;
    assert.equal(v4.name, 'learned-v4');
    assert.deepEqual({ ...v4.sparse, b: v4.bias, d: v4.dense }, { ...v1.sparse, b: v1.bias, d: v1.dense });
    assert.equal(v1.wordProblem, undefined);
    assert.ok(v4.wordProblem?.weights.some((w) => w !== 0));
    assert.notDeepEqual(v4.calibration, v1.calibration);
    const a = createScorer(modelFromAsset(v1));
    const b = createScorer(modelFromAsset(v4));
    const hardProblem =
      'A farm sells 12.5 kg of plums at $3.25 per kg, then twice as much at $1.75. What is the total cost?';
    const easyProblem = 'Ann has 4 pears and buys 3 more. How many pears does she have?';
    assert.notEqual(b.raw(hardProblem, EMPTY_CONTEXT), a.raw(hardProblem, EMPTY_CONTEXT));
    assert.ok(
      b.raw(hardProblem, EMPTY_CONTEXT) - b.raw(easyProblem, EMPTY_CONTEXT) >
        a.raw(hardProblem, EMPTY_CONTEXT) - a.raw(easyProblem, EMPTY_CONTEXT),
    );
    assert.equal(
      b.raw('prove the theorem about a new object?', EMPTY_CONTEXT),
      a.raw('prove the theorem about a new object?', EMPTY_CONTEXT),
    );
    assert.equal(createLearnedTierChooser({ asset: v4 }).choose(chat(hardProblem), 'balanced').chooser, 'learned-v4');
  });

  it('is reproducible: the same rows give the same asset, byte for byte', () => {
    const rows = syntheticRows(200, 11);
    const a = JSON.stringify(trainRouter(rows, SMALL).asset);
    const b = JSON.stringify(trainRouter(rows, SMALL).asset);
    assert.equal(a, b);
  });

  it('drops contaminated rows and rescales MT-Bench gains when parsing pairs', () => {
    const jsonl = [
      {
        bench: 'mmlu',
        id: 'mmlu/x/1',
        prompt: 'Q1',
        category: 'x',
        weak_score: 0,
        strong_score: 1,
        contaminated: false,
      },
      {
        bench: 'mmlu',
        id: 'mmlu/x/2',
        prompt: 'Q2',
        category: 'x',
        weak_score: 1,
        strong_score: 1,
        contaminated: true,
      },
      {
        bench: 'mt_bench',
        id: 'mt_bench/9',
        prompt: 'Q3',
        category: 'math',
        weak_score: 4,
        strong_score: 8.5,
        contaminated: false,
      },
    ]
      .map((row) => JSON.stringify(row))
      .join('\n');
    const parsed = parsePairs(jsonl);
    assert.equal(parsed.dropped, 1);
    assert.deepEqual(
      parsed.rows.map((r) => [r.id, r.gain]),
      [
        ['mmlu/x/1', 1],
        ['mt_bench/9', 0.5],
      ],
    );
    assert.match(parsed.sha256, /^[0-9a-f]{64}$/);
  });

  it('keeps prompts that share a passage in the same fold', () => {
    const passage = 'This question refers to the following information. '.repeat(3);
    const a = foldOf({ prompt: `${passage} Which is right?` }, 10, 7);
    const b = foldOf({ prompt: `${passage}   Which is wrong?` }, 10, 7);
    assert.equal(a, b);
    const spread = new Set(Array.from({ length: 200 }, (_, i) => foldOf({ prompt: `prompt ${i}` }, 10, 7)));
    assert.equal(spread.size, 10);
  });
});
