import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelFromAssetV2 } from '../../src/router/auto/asset-v2.ts';
import { createLearnedTierChooser } from '../../src/router/auto/chooser.ts';
import { EMPTY_CONTEXT } from '../../src/router/auto/features.ts';
import { createScorerV2 } from '../../src/router/auto/model-v2.ts';
import type { PairRow } from '../../src/router/auto/offline/dataset.ts';
import { seededRandom } from '../../src/router/auto/offline/numeric.ts';
import { trainRouterV2 } from '../../src/router/auto/offline/train-router-v2.ts';
import type { V2TrainingConfig } from '../../src/router/auto/offline/train-v2.ts';
import {
  crossValidatedOffsets,
  fitWordProblemHead,
  wordProblemFeatures,
  wordProblemOffsets,
} from '../../src/router/auto/offline/train-word-problem.ts';
import {
  createWordProblemScratch,
  readWordProblem,
  WORD_PROBLEM_FEATURES,
  WORD_PROBLEM_MAX_CHARS,
} from '../../src/router/auto/word-problem.ts';
import { chat, SAMPLE_PROMPTS } from './helpers.ts';

const JANET =
  "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her " +
  'friends every day with four. She sells the remainder at the farmers market daily for $2 per fresh duck egg. ' +
  'How much in dollars does she make every day at the farmers market?';

function read(text: string): Record<string, number> | undefined {
  const scratch = createWordProblemScratch();
  if (!readWordProblem(text, scratch)) return undefined;
  return Object.fromEntries(WORD_PROBLEM_FEATURES.map((name, k) => [name, scratch.features[k]!]));
}

describe('word-problem reader', () => {
  it('reads a GSM8K-style problem: numbers, number words, money, cues and the question', () => {
    const f = read(JANET);
    assert.ok(f);
    assert.equal(f['numbers'], Math.log1p(2)); // 16 and 2
    assert.equal(f['distinctNumbers'], Math.log1p(2));
    assert.equal(f['numberWords'], Math.log1p(2)); // three, four
    assert.equal(f['quantities'], Math.log1p(4));
    assert.equal(f['dollarSigns'], Math.log1p(1));
    assert.equal(f['maxMagnitude'], Math.log10(17));
    assert.equal(f['sentences'], Math.log1p(4));
    assert.equal(f['cueEach'], Math.log1p(5)); // per, every (3 times), per
    assert.equal(f['cueRemaining'], Math.log1p(1));
    assert.equal(f['askHowMuch'], 1);
    assert.equal(f['askHowMany'], 0);
    assert.equal(f['decimals'], 0);
  });

  it('parses thousands, decimals, fractions and percentages', () => {
    const f = read('A car costs $12,500.50 and loses 15% of its value, then 1/3 of the rest. What is it worth?');
    assert.ok(f);
    assert.equal(f['numbers'], Math.log1p(4)); // 12500.50, 15, 1, 3
    assert.equal(f['decimals'], Math.log1p(1));
    assert.equal(f['largeNumbers'], Math.log1p(1));
    assert.equal(f['fractions'], Math.log1p(1));
    assert.equal(f['percentSigns'], Math.log1p(1));
    assert.equal(f['maxMagnitude'], Math.log10(12500.5 + 1));
    assert.equal(f['askWhat'], 1);
  });

  it('turns down quizzes, code, multi-line text, long text and prompts without a question or quantities', () => {
    for (const text of [
      'Which of the following is a prime number?\nA. 21\nB. 27\nC. 29\nD. 33\nAnswer:',
      'Implement a function that returns the 3 largest of 10 numbers. How fast is it?',
      'Tom has 3 apples.\nHe buys 4 more. How many apples does he have?',
      'Tom has 3 apples and buys 4 more. '.repeat(60) + 'How many apples does he have?',
      'Tom has 3 apples and buys 4 more.',
      'How are you today?',
      '',
    ]) {
      assert.equal(read(text), undefined, text.slice(0, 60));
    }
    assert.ok(read(`${'Tom has 3 apples and buys 4 more. '.repeat(10)}How many apples?`));
    assert.ok(WORD_PROBLEM_MAX_CHARS >= 1000);
  });

  it('accepts a question asked without a question mark, and number words as quantities', () => {
    assert.ok(read('Sam read twenty pages on Monday and twice as many on Tuesday. Calculate the total pages.'));
  });

  it('gives the same features whatever it read before (scratch reuse)', () => {
    const scratch = createWordProblemScratch();
    const fresh = read(JANET);
    for (const text of [...SAMPLE_PROMPTS, 'x 1 2 3 4 5 6 7 8 9 10 '.repeat(50)]) readWordProblem(text, scratch);
    assert.ok(readWordProblem(JANET, scratch));
    assert.deepEqual(Object.fromEntries(WORD_PROBLEM_FEATURES.map((name, k) => [name, scratch.features[k]!])), fresh);
  });
});

/** GSM8K-like rows whose gain grows with the number of quantities, plus MMLU-like quizzes. */
function syntheticRows(count: number, seed: number): PairRow[] {
  const random = seededRandom(seed);
  const rows: PairRow[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 3 === 0) {
      const hard = random() < 0.5;
      rows.push({
        bench: 'mmlu',
        id: `q/${i}`,
        prompt: `Question ${i} about ${hard ? 'velocity force' : 'sonnet verse'}?\nA. one\nB. two\nC. three\nD. four`,
        category: hard ? 'physics' : 'poetry',
        weak: hard ? 0 : 1,
        strong: 1,
        gain: hard ? 1 : 0,
      });
      continue;
    }
    const steps = 2 + Math.floor(random() * 6);
    const parts = Array.from({ length: steps }, (_, k) => `then ${k + 2 + (i % 7)} more`);
    const weak = random() < 1 - steps / 8 ? 1 : 0;
    rows.push({
      bench: 'gsm8k',
      id: `g/${i}`,
      prompt: `Ann has ${i % 9} coins, ${parts.join(', ')}. How many coins does Ann have?`,
      category: 'math',
      weak,
      strong: 1,
      gain: 1 - weak,
    });
  }
  return rows;
}

const SMALL: V2TrainingConfig = {
  open: { hashBits: 10, l2Sparse: 1e-2, l2Dense: 1e-2, maxIterations: 40 },
  features: { hashBits: 10, headBits: 6, headWords: 16, choiceCopy: false, optionCopy: true },
  text: { l2Sparse: 1e-3, l2Dense: 1e-3, maxIterations: 40 },
  head: { l2: 1e-4, maxIterations: 30 },
  mixWeight: 1,
  categoryPrior: 2,
  benchWeights: { mmlu: 1, gsm8k: 1, mt_bench: 2 },
  calibrationFolds: 3,
  seed: 1,
};

describe('word-problem head (learned-v3)', () => {
  const rows = syntheticRows(300, 11);
  const features = wordProblemFeatures(rows);
  const all = rows.map((_, i) => i);

  it('is fitted on GSM8K word problems only, centred there, and learns more quantities -> more gain', () => {
    assert.ok(rows.every((r, i) => (r.bench === 'gsm8k') === (features[i] !== undefined)));
    const head = fitWordProblemHead(rows, features, all, { l2: 0.1, weight: 1, maxIterations: 200 });
    const offsets = wordProblemOffsets(head, features, all);
    const gsm = all.filter((i) => rows[i]!.bench === 'gsm8k');
    const mean = gsm.reduce((s, i) => s + offsets[i]!, 0) / gsm.length;
    assert.ok(Math.abs(mean) < 1e-6, `mean offset ${mean}`);
    assert.ok(all.filter((i) => rows[i]!.bench === 'mmlu').every((i) => offsets[i] === 0));
    const short = all.find((i) => rows[i]!.bench === 'gsm8k' && rows[i]!.prompt.split('then').length === 3)!;
    const long = all.find((i) => rows[i]!.bench === 'gsm8k' && rows[i]!.prompt.split('then').length === 8)!;
    assert.ok(offsets[long]! > offsets[short]!);
  });

  it('gives held-out rows the offsets of heads that never saw them', () => {
    const folds = rows.map((_, i) => i % 3);
    const cv = crossValidatedOffsets(rows, features, folds, 3, { l2: 0.1, weight: 1, maxIterations: 200 });
    const train = all.filter((i) => folds[i] !== 0);
    const test = all.filter((i) => folds[i] === 0);
    const head = fitWordProblemHead(rows, features, train, { l2: 0.1, weight: 1, maxIterations: 200 });
    assert.deepEqual(
      test.map((i) => cv[i]!),
      Array.from(wordProblemOffsets(head, features, test)),
    );
  });

  it('ships in a learned-v3 asset whose scorer adds the offset on word problems only', async () => {
    const options = { l2: 0.1, weight: 1, maxIterations: 200 };
    const { asset } = await trainRouterV2(rows, SMALL, { data: 'synthetic' }, () => {}, 1, options);
    assert.equal(asset.name, 'learned-v3');
    assert.deepEqual(asset.wordProblem?.features, [...WORD_PROBLEM_FEATURES]);
    const v3 = createScorerV2(modelFromAssetV2(asset));
    const v2 = createScorerV2(modelFromAssetV2({ ...asset, wordProblem: undefined }));
    const head = fitWordProblemHead(rows, features, all, options);
    const problem = 'Ann has 3 coins, then 4 more, then 5 more, then 6 more. How many coins does Ann have?';
    const [x] = wordProblemFeatures([{ prompt: problem }]);
    const expected = v2.raw(problem, EMPTY_CONTEXT) + wordProblemOffsets(head, [x], [0])[0]!;
    assert.ok(Math.abs(v3.raw(problem, EMPTY_CONTEXT) - expected) < 1e-9);
    for (const text of ['Question about velocity force?\nA. one\nB. two\nC. three\nD. four', 'Hello there']) {
      assert.equal(v3.raw(text, EMPTY_CONTEXT), v2.raw(text, EMPTY_CONTEXT));
    }
    assert.throws(
      () => modelFromAssetV2({ ...asset, wordProblem: { ...asset.wordProblem!, weights: [1] } }),
      /word-problem/,
    );
    const chooser = createLearnedTierChooser({ asset });
    assert.equal(chooser.choose(chat(problem), 'balanced').chooser, 'learned-v3');
  });
});
