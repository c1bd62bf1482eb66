import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_CONTEXT } from '../../../src/router/auto/features.ts';
import { WORD_PROBLEM_FEATURES } from '../../../src/router/auto/word-problem.ts';
import { chat } from '../../../test/router/helpers.ts';
import { modelFromAssetV2 } from '../asset-v2.ts';
import { createScorerV2 } from '../model-v2.ts';
import type { PairRow } from '../offline/dataset.ts';
import { seededRandom } from '../offline/numeric.ts';
import { trainRouterV2 } from '../offline/train-router-v2.ts';
import type { V2TrainingConfig } from '../offline/train-v2.ts';
import {
  crossValidatedOffsets,
  fitWordProblemHead,
  wordProblemFeatures,
  wordProblemOffsets,
} from '../offline/train-word-problem.ts';
import { chooserOfAssetV2 } from '../versions.ts';

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
    const chooser = chooserOfAssetV2(asset);
    assert.equal(chooser.choose(chat(problem), 'balanced').chooser, 'learned-v3');
  });
});
