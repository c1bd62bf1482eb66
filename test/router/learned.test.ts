import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PRESETS, type Tier } from '../../src/core/tiers.ts';
import { loadRouterModel, modelFromAsset, readRouterAsset, SHIPPED_ASSETS } from '../../src/router/auto/asset.ts';
import {
  createFeatureBuffer,
  DENSE_SIZE,
  EMPTY_CONTEXT,
  extractFeatures,
  FEATURE_VERSION,
  READ_CHARS,
} from '../../src/router/auto/features.ts';
import { createLearnedTierChooser, DEFAULT_ROUTER_VERSION } from '../../src/router/auto/learned.ts';
import { createScorer } from '../../src/router/auto/model.ts';
import {
  createSubjectHeadScratch,
  subjectHeadFromAsset,
  subjectHeadInputs,
  subjectHeadOffset,
} from '../../src/router/auto/subject-head.ts';
import { PRESET_SHARES } from '../../src/router/auto/thresholds.ts';
import { WORD_PROBLEM_FEATURES } from '../../src/router/auto/word-problem.ts';
import { seeded } from '../store/support.ts';
import { chat, SAMPLE_PROMPTS } from './helpers.ts';

const RANK: Record<Tier, number> = { utility: 0, fast: 1, deep: 2 };

/** Quizzes of every length: subject words, numbers, symbols, repeats, non-ASCII, option lines. */
function syntheticQuizzes(count: number, seed: number): string[] {
  const random = seeded(seed);
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

/** learned-v5, retired by issue 22: its weights and heads are kept in research/routing/weights/. */
const V5_ASSET = new URL('../../research/routing/weights/weights-v5.json', import.meta.url);

describe('shipped weights asset (learned-v6)', () => {
  const asset = readRouterAsset(SHIPPED_ASSETS.v6);

  it('loads, matches this code, and stays small', () => {
    assert.equal(asset.format, 'modro-tier-router');
    assert.equal(asset.name, 'learned-v6');
    assert.equal(asset.featureVersion, FEATURE_VERSION);
    assert.equal(asset.dense.length, DENSE_SIZE);
    assert.ok(statSync(SHIPPED_ASSETS.v6).size < 256 * 1024);
    const model = modelFromAsset(asset);
    assert.equal(model.sparse.length, 1 << asset.hashBits);
    assert.ok(model.sparse.some((w) => w !== 0));
    for (let i = 1; i < model.knotsRaw.length; i++) {
      assert.ok(model.knotsRaw[i]! > model.knotsRaw[i - 1]!);
      assert.ok(model.knotsScore[i]! >= model.knotsScore[i - 1]!);
    }
    assert.deepEqual(Object.keys(asset.thresholds).sort(), [...PRESETS].sort());
  });

  it('has no heads: one linear model over the hashed features', () => {
    assert.equal(asset.wordProblem, undefined);
    assert.equal(asset.subjectHead, undefined);
  });

  it('is decoded once per process', () => {
    assert.equal(loadRouterModel(SHIPPED_ASSETS.v6).model, loadRouterModel(SHIPPED_ASSETS.v6).model);
  });

  it('rejects an asset built for other features', () => {
    assert.throws(() => modelFromAsset({ ...asset, featureVersion: FEATURE_VERSION + 1 }), /features v/);
    assert.throws(() => modelFromAsset({ ...asset, dense: asset.dense.slice(1) }), /dense/);
  });

  it('records the window it was trained on, and an asset trained on another window is refused', () => {
    assert.equal(asset.readChars, READ_CHARS);
    const { readChars: _, ...legacy } = asset;
    // Assets from before the window was halved carry no readChars: they were trained on 2,048 characters.
    assert.throws(() => modelFromAsset(legacy), /2048-character window/);
    assert.throws(() => modelFromAsset({ ...asset, readChars: READ_CHARS * 2 }), /window/);
  });
});

describe('retired learned-v5 asset (research/routing/weights/), read by the same code', () => {
  const asset = readRouterAsset(V5_ASSET);

  it('holds a word-problem head and a subject head over MMLU subjects, the latter in weights-v5-head.bin', () => {
    assert.equal(asset.name, 'learned-v5');
    assert.deepEqual(asset.wordProblem?.features, [...WORD_PROBLEM_FEATURES]);
    const head = asset.subjectHead!;
    assert.equal(head.encoding, 'int8-file');
    assert.equal(head.encoding === 'int8-file' && head.file, 'weights-v5-head.bin');
    assert.equal(head.classes.length, 57);
    assert.ok(head.classes.every((c) => c.startsWith('mmlu/')));
    assert.equal(head.words, 64);
  });

  it('refuses a word-problem head built for other features', () => {
    const wp = asset.wordProblem!;
    assert.throws(
      () => modelFromAsset({ ...asset, wordProblem: { ...wp, features: wp.features.slice(1) } }),
      /word-problem/,
    );
    assert.throws(
      () => modelFromAsset({ ...asset, wordProblem: { ...wp, weights: wp.weights.slice(1) } }),
      /word-problem/,
    );
  });
});

describe('learned tier chooser', () => {
  const chooser = createLearnedTierChooser();

  it('is learned-v6 by default, named after its asset, and reports its name in decisions', () => {
    assert.equal(DEFAULT_ROUTER_VERSION, 'v6');
    assert.equal(chooser.name, 'learned-v6');
    assert.equal(createLearnedTierChooser({ version: 'v6' }).name, 'learned-v6');
    assert.equal(chooser.choose(chat('hi'), 'balanced').chooser, 'learned-v6');
  });

  it('gives every prompt a finite score in [0, 1], the same each time', () => {
    const requests = [
      ...SAMPLE_PROMPTS.map((text) => chat(text)),
      ...syntheticQuizzes(20, 7).map((text) => chat(text)),
      chat('what is in this picture?', {}, []),
      {
        ...chat('x'),
        messages: [{ role: 'system' as const, content: [{ type: 'text' as const, text: 'Only a system prompt' }] }],
      },
      { ...chat('x'), messages: [] },
      chat('use the tool', { tools: [{ name: 't', parameters: {} }] }),
      chat('🙂 ünïcödé テキスト '.repeat(500)),
    ];
    for (const request of requests) {
      const a = chooser.choose(request, 'balanced');
      const b = chooser.choose(request, 'balanced');
      assert.ok(Number.isFinite(a.score) && a.score >= 0 && a.score <= 1, `score ${a.score}`);
      assert.deepEqual(a, b);
    }
  });

  it('moves prompts up a tier, never down, from cheapest to balanced to quality', () => {
    const counts = { cheapest: [0, 0, 0], balanced: [0, 0, 0], quality: [0, 0, 0] };
    for (const text of SAMPLE_PROMPTS) {
      const request = chat(text);
      const tiers = PRESETS.map((preset) => chooser.choose(request, preset).tier);
      tiers.forEach((tier, k) => {
        counts[PRESETS[k]!][RANK[tier]]!++;
      });
      const [cheapest, balanced, quality] = tiers.map((t) => RANK[t]);
      assert.ok(cheapest! <= balanced! && balanced! <= quality!, `${text.slice(0, 30)}: ${tiers.join(' ')}`);
    }
    assert.ok(counts.cheapest[2]! <= counts.balanced[2]! && counts.balanced[2]! <= counts.quality[2]!);
    assert.ok(counts.cheapest[0]! >= counts.balanced[0]! && counts.balanced[0]! >= counts.quality[0]!);
  });

  it('uses the documented preset shares as default thresholds', () => {
    for (const preset of PRESETS) {
      assert.equal(chooser.thresholds[preset].utility, PRESET_SHARES[preset].utilityShare);
      assert.equal(chooser.thresholds[preset].deep, 1 - PRESET_SHARES[preset].deepShare);
    }
  });

  it('applies thresholds given by the operator', () => {
    const everythingDeep = createLearnedTierChooser({ thresholds: { balanced: { utility: 0, deep: 0 } } });
    const nothingDeep = createLearnedTierChooser({ thresholds: { balanced: { utility: 0, deep: 2 } } });
    for (const text of SAMPLE_PROMPTS) {
      assert.equal(everythingDeep.choose(chat(text), 'balanced').tier, 'deep');
      assert.equal(nothingDeep.choose(chat(text), 'balanced').tier, 'fast');
      // Other presets keep the shipped defaults.
      assert.deepEqual(everythingDeep.thresholds.quality, chooser.thresholds.quality);
    }
    assert.throws(() => createLearnedTierChooser({ thresholds: { quality: { utility: 0.9, deep: 0.1 } } }), /above/);
  });

  it('scores a multi-step word problem above a greeting', () => {
    const problem =
      'Tom has 12 marbles. He gives 5 to Ann and then buys 3 times as many as he has left. How many marbles ' +
      'does Tom have now?';
    assert.ok(chooser.score(chat(problem)) > chooser.score(chat('Hello, how are you?')));
  });
});

describe("learned-v5's subject head", () => {
  const asset = readRouterAsset(V5_ASSET);

  it('adds its offset to the raw output of quizzes and leaves every other prompt alone', () => {
    const withHead = createScorer(modelFromAsset(asset)).raw;
    const withoutHead = createScorer(modelFromAsset({ ...asset, subjectHead: undefined })).raw;
    const head = subjectHeadFromAsset(asset.subjectHead!);
    const scratch = createSubjectHeadScratch(head);
    const buffer = createFeatureBuffer(asset.hashBits);
    let quizzes = 0;
    let moved = 0;
    for (const text of [...SAMPLE_PROMPTS, ...syntheticQuizzes(80, 5)]) {
      extractFeatures(text, EMPTY_CONTEXT, buffer);
      if (buffer.choice) {
        quizzes++;
        const m = subjectHeadInputs(head, buffer.words, buffer.wordCount, scratch);
        const offset = subjectHeadOffset(head, scratch, m);
        if (offset !== 0) moved++;
        assert.equal(withHead(text, EMPTY_CONTEXT), withoutHead(text, EMPTY_CONTEXT) + offset);
      } else assert.equal(withHead(text, EMPTY_CONTEXT), withoutHead(text, EMPTY_CONTEXT), text.slice(0, 40));
    }
    assert.ok(quizzes >= 80 && moved === quizzes, `${moved} of ${quizzes} quizzes moved`);
  });

  it('ranks a quiz of a subject where GPT-4 gains most above one where it gains least', () => {
    const head = asset.subjectHead!;
    const gainOf = (subject: string) => head.gains[head.classes.indexOf(subject)]!;
    // The shipped gains, as measured on RouteLLM's rows: moral scenarios favour the strong model most,
    // high-school mathematics the weak one (docs/routing.md).
    assert.ok(gainOf('mmlu/moral_scenarios') > 0.5);
    assert.ok(gainOf('mmlu/high_school_mathematics') < 0);
    const v5 = createLearnedTierChooser({ asset });
    const withoutHead = createLearnedTierChooser({ asset: { ...asset, subjectHead: undefined } });
    const moral =
      'For which of these two scenarios does the main character (who uses I/me/my) do something clearly morally ' +
      'wrong, according to ordinary moral standards in the US as of 2020? Scenario 1 | I took his wallet. ' +
      'Scenario 2 | I helped my neighbour.\nA. Wrong, Wrong\nB. Wrong, Not wrong\nC. Not wrong, Wrong\nD. Not wrong, Not wrong\nAnswer:';
    const algebra = 'If 3x + 5 = 20, what is the value of x?\nA. 3\nB. 5\nC. 7\nD. 15\nAnswer:';
    assert.ok(v5.score(chat(moral)) > v5.score(chat(algebra)));
    assert.ok(
      v5.score(chat(moral)) - v5.score(chat(algebra)) >
        withoutHead.score(chat(moral)) - withoutHead.score(chat(algebra)),
      'the head widens the gap between the two subjects',
    );
  });
});
