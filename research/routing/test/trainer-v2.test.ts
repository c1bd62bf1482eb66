import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_CONTEXT } from '../../../src/router/auto/features.ts';
import { chat } from '../../../test/router/helpers.ts';
import { decodeHead, modelFromAssetV2 } from '../asset-v2.ts';
import { createScorerV2 } from '../model-v2.ts';
import { encodeHead } from '../offline/asset-writer.ts';
import { assignFolds, foldOf, lockboxMask, type PairRow } from '../offline/dataset.ts';
import { seededRandom } from '../offline/numeric.ts';
import { crossValidatedPartsParallel } from '../offline/parallel-folds.ts';
import { categoriesOf, countMatrixOf, trainRouterV2 } from '../offline/train-router-v2.ts';
import { classGains, crossValidatedParts, type V2TrainingConfig } from '../offline/train-v2.ts';
import { chooserOfAssetV2 } from '../versions.ts';

/**
 * A synthetic RouteLLM-like set. Open prompts: "integral"/"proof" ones gain from the strong model, small talk
 * does not. Quizzes (four option lines) come from two subjects: in `physics` the strong model gains, in
 * `poetry` it does not, and their words differ.
 */
function syntheticRows(count: number, seed: number): PairRow[] {
  const random = seededRandom(seed);
  const hard = ['evaluate the integral of', 'prove the theorem about', 'derive the closed form of'];
  const easy = ['say hello to', 'what colour is', 'write a greeting for'];
  const nouns = ['the function', 'a sequence', 'my friend', 'the sky', 'a matrix', 'the team', 'this series'];
  const rows: PairRow[] = [];
  for (let i = 0; i < count; i++) {
    const quiz = i % 2 === 0;
    const isHard = random() < 0.5;
    const weak = isHard ? (random() < 0.3 ? 1 : 0) : random() < 0.9 ? 1 : 0;
    const strong = isHard ? (random() < 0.9 ? 1 : 0) : weak;
    if (quiz) {
      const topic = isHard ? 'velocity momentum force electron' : 'sonnet rhyme stanza verse';
      rows.push({
        bench: 'mmlu',
        id: `synthetic/${i}`,
        prompt: `Question ${i} about ${topic}?\nA. one\nB. two\nC. three\nD. four\nAnswer:`,
        category: isHard ? 'physics' : 'poetry',
        weak,
        strong,
        gain: strong - weak,
      });
    } else {
      const stem = (isHard ? hard : easy)[Math.floor(random() * 3)]!;
      const noun = nouns[Math.floor(random() * nouns.length)]!;
      rows.push({
        bench: i % 10 === 1 ? 'mt_bench' : 'gsm8k',
        id: `synthetic/${i}`,
        prompt: `${stem} ${noun} number ${i}?`,
        category: i % 10 === 1 ? 'writing' : 'math',
        weak,
        strong,
        gain: strong - weak,
      });
    }
  }
  return rows;
}

const SMALL: V2TrainingConfig = {
  open: { hashBits: 12, l2Sparse: 1e-3, l2Dense: 1e-3, maxIterations: 60 },
  features: { hashBits: 12, headBits: 8, headWords: 64, choiceCopy: false, optionCopy: true },
  text: { l2Sparse: 1e-3, l2Dense: 1e-3, maxIterations: 60 },
  head: { l2: 1e-4, maxIterations: 40 },
  mixWeight: 1,
  categoryPrior: 2,
  benchWeights: { mmlu: 1, gsm8k: 1, mt_bench: 2 },
  calibrationFolds: 3,
  seed: 1,
};

describe('v2 router trainer', () => {
  it('produces a loadable asset whose scorer ranks unseen hard prompts above easy ones', async () => {
    const { asset } = await trainRouterV2(syntheticRows(400, 3), SMALL, { data: 'synthetic' });
    assert.equal(asset.name, 'learned-v2');
    assert.equal(asset.featureVersion, 2);
    assert.deepEqual(asset.head.classes, ['mmlu/physics', 'mmlu/poetry']);
    const scorer = createScorerV2(modelFromAssetV2(asset));
    const open = (stem: string) => scorer.score(`${stem} a new object?`, EMPTY_CONTEXT);
    assert.ok(open('prove the theorem about') > open('say hello to'));
    const quiz = (topic: string) => `A new question on ${topic}?\nA. w\nB. x\nC. y\nD. z`;
    const physics = quiz('velocity momentum force electron');
    const poetry = quiz('sonnet rhyme stanza verse');
    assert.ok(scorer.raw(physics, EMPTY_CONTEXT) > scorer.raw(poetry, EMPTY_CONTEXT));
    assert.ok(scorer.score(physics, EMPTY_CONTEXT) > scorer.score(poetry, EMPTY_CONTEXT));
    const chooser = chooserOfAssetV2(asset);
    const decision = chooser.choose(chat('evaluate the integral of a new function?'), 'balanced');
    assert.equal(decision.chooser, 'learned-v2');
    assert.ok(decision.score >= 0 && decision.score <= 1);
  });

  it('gives the head a say on quizzes only', async () => {
    const { asset } = await trainRouterV2(syntheticRows(300, 5), SMALL);
    const model = modelFromAssetV2(asset);
    const silentHead = modelFromAssetV2({ ...asset, mixWeight: 0 });
    const a = createScorerV2(model);
    const b = createScorerV2(silentHead);
    const open = 'velocity momentum force electron, explain?';
    assert.equal(a.raw(open, EMPTY_CONTEXT), b.raw(open, EMPTY_CONTEXT));
    const quiz = 'velocity momentum force electron?\nA. one\nB. two\nC. three\nD. four';
    assert.notEqual(a.raw(quiz, EMPTY_CONTEXT), b.raw(quiz, EMPTY_CONTEXT));
  });

  it('is reproducible: the same rows give the same asset, byte for byte, threads or not', async () => {
    const rows = syntheticRows(200, 11);
    const a = JSON.stringify((await trainRouterV2(rows, SMALL)).asset);
    const b = JSON.stringify((await trainRouterV2(rows, SMALL, {}, () => {}, 2)).asset);
    assert.equal(a, b);
  });

  it('gets the same out-of-fold outputs from worker threads as in one thread', async () => {
    const rows = syntheticRows(150, 13);
    const folds = assignFolds(rows, 3, 2);
    const classes = categoriesOf(rows, SMALL.features);
    const one = crossValidatedParts(countMatrixOf(rows, SMALL), rows, folds, 3, classes, SMALL);
    const many = await crossValidatedPartsParallel(rows, folds, 3, classes, SMALL, { workers: 2 });
    assert.deepEqual(Array.from(many.text), Array.from(one.text));
    assert.deepEqual(Array.from(many.mix), Array.from(one.mix));
  });

  it('gives each category its shrunk mean gain as a logit offset from its benchmark', () => {
    const rows = [
      { bench: 'mmlu', category: 'a', gain: 1 },
      { bench: 'mmlu', category: 'a', gain: 1 },
      { bench: 'mmlu', category: 'b', gain: 0 },
      { bench: 'mmlu', category: 'b', gain: 0 },
      { bench: 'gsm8k', category: 'math', gain: 0.5 },
    ] as PairRow[];
    const gains = classGains(rows, [0, 1, 2, 3, 4], ['gsm8k/math', 'mmlu/a', 'mmlu/b'], 2);
    // gsm8k has one category: no offset. mmlu mean 0.5; a: (2 + 2 x 0.5) / 4 = 0.75; b: 0.25.
    assert.equal(gains[0], 0);
    const logit = (g: number) => Math.log((1 + g) / (1 - g));
    assert.ok(Math.abs(gains[1]! - (logit(0.75) - logit(0.5))) < 1e-12);
    assert.ok(Math.abs(gains[2]! - (logit(0.25) - logit(0.5))) < 1e-12);
  });

  it('round-trips head weights through int8 within half a step per category', () => {
    const classes = 3;
    const weights = Float32Array.from({ length: (1 << 6) * classes }, (_, i) => Math.sin(i) * (1 + (i % classes)));
    const encoded = encodeHead(weights, classes);
    const decoded = decodeHead(
      {
        classes: ['a', 'b', 'c'],
        encoding: 'int8-base64',
        scales: encoded.scales,
        data: encoded.data,
        bias: [0, 0, 0],
        gains: [0, 0, 0],
      },
      6,
    );
    for (let i = 0; i < weights.length; i++) {
      const scale = encoded.scales[i % classes]!;
      assert.ok(Math.abs(decoded[i]! * scale - weights[i]!) <= scale / 2 + 1e-7);
    }
  });
});

describe('fold assignment', () => {
  it('keeps a shared passage in one fold but spreads rows behind a shared instruction template', () => {
    const template = 'For which of these two scenarios does the main character do something clearly wrong? '.repeat(2);
    const templated = Array.from({ length: 120 }, (_, i) => ({
      prompt: `${template}Scenario ${i} | I did thing ${i}.`,
    }));
    const passage = 'This question refers to the following information. '.repeat(3);
    const shared = [{ prompt: `${passage} Which is right?` }, { prompt: `${passage}   Which is wrong?` }];
    const rows = [...templated, ...shared];
    const folds = assignFolds(rows, 10, 7);
    assert.equal(folds[120], folds[121]);
    assert.equal(new Set(folds.slice(0, 120)).size, 10);
    // The legacy rule puts the whole template in one fold.
    assert.equal(new Set(templated.map((r) => foldOf(r, 10, 7))).size, 1);
  });

  it('holds out about a fifth of the rows as the lockbox, fixed by content', () => {
    const rows = Array.from({ length: 2000 }, (_, i) => ({ prompt: `prompt ${i}` }));
    const mask = lockboxMask(rows);
    const share = mask.filter(Boolean).length / rows.length;
    assert.ok(share > 0.17 && share < 0.23, `lockbox share ${share}`);
    assert.deepEqual(lockboxMask(rows), mask);
  });
});
