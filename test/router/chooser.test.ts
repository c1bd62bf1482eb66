import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PRESETS, type Tier } from '../../src/core/tiers.ts';
import {
  DEFAULT_ASSET_URL,
  DEFAULT_ASSET_V4_URL,
  DEFAULT_ASSET_V5_URL,
  decodeSparse,
  defaultRouterModel,
  encodeSparse,
  modelFromAsset,
  readRouterAsset,
} from '../../src/router/auto/asset.ts';
import {
  DEFAULT_ASSET_V2_URL,
  DEFAULT_ASSET_V3_URL,
  modelFromAssetV2,
  readRouterAssetV2,
} from '../../src/router/auto/asset-v2.ts';
import { createLearnedTierChooser, DEFAULT_ROUTER_VERSION } from '../../src/router/auto/chooser.ts';
import {
  createFeatureBuffer,
  DENSE_SIZE,
  EMPTY_CONTEXT,
  extractFeatures,
  FEATURE_VERSION,
  READ_CHARS,
} from '../../src/router/auto/features.ts';
import { createFeatureBufferV2, extractFeaturesV2 } from '../../src/router/auto/features-v2.ts';
import { createScorer } from '../../src/router/auto/model.ts';
import {
  combineParts,
  createScorerV2,
  isMultipleChoice,
  mixOf,
  type RouterModelV2,
} from '../../src/router/auto/model-v2.ts';
import { idfFromLevels } from '../../src/router/auto/offline/matrix-v2.ts';
import { seededRandom } from '../../src/router/auto/offline/numeric.ts';
import {
  createSubjectHeadScratch,
  subjectHeadFromAsset,
  subjectHeadInputs,
  subjectHeadOffset,
} from '../../src/router/auto/subject-head.ts';
import { PRESET_SHARES } from '../../src/router/auto/thresholds.ts';
import {
  createWordProblemScratch,
  readWordProblem,
  WORD_PROBLEM_FEATURES,
  wordProblemOffset,
} from '../../src/router/auto/word-problem.ts';
import { chat, SAMPLE_PROMPTS } from './helpers.ts';

const RANK: Record<Tier, number> = { utility: 0, fast: 1, deep: 2 };

describe('shipped weights asset', () => {
  it('loads, matches this code, and stays small', async () => {
    const asset = readRouterAsset();
    assert.equal(asset.format, 'modro-tier-router');
    assert.equal(asset.name, 'learned-v1');
    assert.equal(asset.featureVersion, FEATURE_VERSION);
    assert.equal(asset.dense.length, DENSE_SIZE);
    const { statSync } = await import('node:fs');
    assert.ok(statSync(DEFAULT_ASSET_URL).size < 2 * 1024 * 1024);
    const model = modelFromAsset(asset);
    assert.equal(model.sparse.length, 1 << asset.hashBits);
    assert.ok(model.sparse.some((w) => w !== 0));
    for (let i = 1; i < model.knotsRaw.length; i++) {
      assert.ok(model.knotsRaw[i]! > model.knotsRaw[i - 1]!);
      assert.ok(model.knotsScore[i]! >= model.knotsScore[i - 1]!);
    }
    assert.deepEqual(Object.keys(asset.thresholds).sort(), [...PRESETS].sort());
  });

  it('is decoded once per process', () => {
    assert.equal(defaultRouterModel().model, defaultRouterModel().model);
  });

  it('rejects an asset built for other features', () => {
    const asset = readRouterAsset();
    assert.throws(() => modelFromAsset({ ...asset, featureVersion: FEATURE_VERSION + 1 }), /features v/);
    assert.throws(() => modelFromAsset({ ...asset, dense: asset.dense.slice(1) }), /dense/);
  });

  it('records the window it was trained on, and an asset trained on another window is refused', () => {
    const v1 = readRouterAsset();
    assert.equal(v1.readChars, READ_CHARS);
    const { readChars: _, ...legacy } = v1;
    // Assets from before the window was halved carry no readChars: they were trained on 2,048 characters.
    assert.throws(() => modelFromAsset(legacy), /2048-character window/);
    assert.throws(() => modelFromAsset({ ...v1, readChars: READ_CHARS * 2 }), /window/);
    for (const url of [DEFAULT_ASSET_V2_URL, DEFAULT_ASSET_V3_URL]) {
      const asset = readRouterAssetV2(url);
      assert.equal(asset.readChars, READ_CHARS);
      assert.throws(() => modelFromAssetV2({ ...asset, readChars: undefined }), /2048-character window/);
    }
  });

  it('round-trips hashed weights through int16 within one quantisation step', () => {
    const weights = Float32Array.from({ length: 1 << 8 }, (_, i) => Math.sin(i) * (i % 7));
    const encoded = encodeSparse(weights);
    const decoded = decodeSparse(encoded, 8);
    for (let i = 0; i < weights.length; i++) assert.ok(Math.abs(decoded[i]! - weights[i]!) <= encoded.scale);
  });
});

describe('learned tier chooser', () => {
  const chooser = createLearnedTierChooser();

  it('is named after the asset and reports its name in decisions', () => {
    assert.equal(chooser.name, 'learned-v5');
    assert.equal(chooser.choose(chat('hi'), 'balanced').chooser, 'learned-v5');
  });

  it('gives every prompt a finite score in [0, 1], the same each time', () => {
    const requests = [
      ...SAMPLE_PROMPTS.map((text) => chat(text)),
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

describe('learned-v2 chooser (shipped weights-v2.json)', () => {
  const v2 = createLearnedTierChooser({ version: 'v2' });

  it('loads a small asset that matches this code', async () => {
    const asset = readRouterAssetV2();
    assert.equal(asset.name, 'learned-v2');
    assert.equal(asset.featureVersion, 2);
    const { statSync } = await import('node:fs');
    assert.ok(statSync(DEFAULT_ASSET_V2_URL).size < 4 * 1024 * 1024);
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

  it('is named learned-v2, and v1 stays available and unchanged', () => {
    assert.equal(v2.name, 'learned-v2');
    assert.equal(v2.choose(chat('hi'), 'balanced').chooser, 'learned-v2');
    assert.equal(createLearnedTierChooser({ version: 'v1' }).name, 'learned-v1');
    assert.equal(createLearnedTierChooser().name, `learned-${DEFAULT_ROUTER_VERSION}`);
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
    // mathematics where it loses (docs/routing.md); neither question is in the training data.
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

describe('learned-v3 chooser (shipped weights-v3.json)', () => {
  const v3 = createLearnedTierChooser({ version: 'v3' });
  const v2 = createLearnedTierChooser({ version: 'v2' });
  const problem =
    'A baker makes 48 muffins. She sells half of them in the morning and a third of the remaining ones in the ' +
    'afternoon, then bakes 12 more. How many muffins does she have at the end of the day?';

  it("loads v2's quiz and open models plus a word-problem head", () => {
    const asset = readRouterAssetV2(DEFAULT_ASSET_V3_URL);
    assert.equal(asset.name, 'learned-v3');
    assert.deepEqual(asset.wordProblem?.features, [...WORD_PROBLEM_FEATURES]);
    const v2Asset = readRouterAssetV2();
    assert.deepEqual(asset.sparse, v2Asset.sparse);
    assert.deepEqual(asset.head, v2Asset.head);
    assert.deepEqual(asset.open, v2Asset.open);
    assert.equal(v3.name, 'learned-v3');
    assert.equal(v3.choose(chat('hi'), 'balanced').chooser, 'learned-v3');
  });

  it('scores quizzes exactly as the trainer computes them (fused quiz path)', () => {
    const model = modelFromAssetV2(readRouterAssetV2(DEFAULT_ASSET_V3_URL));
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
    const raw3 = createScorerV2(modelFromAssetV2(readRouterAssetV2(DEFAULT_ASSET_V3_URL))).raw;
    const raw2 = createScorerV2(modelFromAssetV2(readRouterAssetV2())).raw;
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

describe('learned-v4 chooser (shipped weights-v4.json)', () => {
  const asset = readRouterAsset(DEFAULT_ASSET_V4_URL);
  const v1Asset = readRouterAsset();
  const v3Asset = readRouterAssetV2(DEFAULT_ASSET_V3_URL);

  it("is learned-v1's model plus learned-v3's word-problem head, with its own calibration curve", () => {
    assert.equal(asset.name, 'learned-v4');
    assert.equal(createLearnedTierChooser({ version: 'v4' }).name, 'learned-v4');
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

describe('learned-v5 chooser (shipped weights-v5.json, the gateway default)', () => {
  const asset = readRouterAsset(DEFAULT_ASSET_V5_URL);
  const v4Asset = readRouterAsset(DEFAULT_ASSET_V4_URL);

  it("is learned-v4's model byte for byte plus a subject head over MMLU's 57 subjects", () => {
    assert.equal(asset.name, 'learned-v5');
    assert.equal(DEFAULT_ROUTER_VERSION, 'v5');
    assert.equal(createLearnedTierChooser().name, 'learned-v5');
    assert.equal(createLearnedTierChooser({ version: 'v5' }).name, 'learned-v5');
    assert.equal(asset.readChars, READ_CHARS);
    assert.deepEqual(
      { s: asset.sparse, b: asset.bias, d: asset.dense, h: asset.hashBits, wp: asset.wordProblem },
      { s: v4Asset.sparse, b: v4Asset.bias, d: v4Asset.dense, h: v4Asset.hashBits, wp: v4Asset.wordProblem },
    );
    const head = asset.subjectHead!;
    assert.equal(head.classes.length, 57);
    assert.ok(head.classes.every((c) => c.startsWith('mmlu/')));
    assert.equal(head.words, 64);
    assert.notDeepEqual(asset.calibration, v4Asset.calibration);
  });

  it("gives v4's raw output on open prompts and v4's plus the head's offset on quizzes", () => {
    const v5 = createScorer(modelFromAsset(asset)).raw;
    const v4 = createScorer(modelFromAsset(v4Asset)).raw;
    const head = subjectHeadFromAsset(asset.subjectHead!);
    const scratch = createSubjectHeadScratch(head);
    const buffer = createFeatureBuffer(asset.hashBits);
    let quizzes = 0;
    let moved = 0;
    for (const text of [...SAMPLE_PROMPTS, ...syntheticQuizzes(80, 5)]) {
      extractFeatures(text, EMPTY_CONTEXT, buffer);
      if (buffer.choice) {
        quizzes++;
        const offset = subjectHeadOffset(
          head,
          scratch,
          subjectHeadInputs(head, buffer.words, buffer.wordCount, scratch),
        );
        if (offset !== 0) moved++;
        assert.equal(v5(text, EMPTY_CONTEXT), v4(text, EMPTY_CONTEXT) + offset);
      } else assert.equal(v5(text, EMPTY_CONTEXT), v4(text, EMPTY_CONTEXT), text.slice(0, 40));
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
    const v5 = createLearnedTierChooser({ version: 'v5' });
    const moral =
      'For which of these two scenarios does the main character (who uses I/me/my) do something clearly morally ' +
      'wrong, according to ordinary moral standards in the US as of 2020? Scenario 1 | I took his wallet. ' +
      'Scenario 2 | I helped my neighbour.\nA. Wrong, Wrong\nB. Wrong, Not wrong\nC. Not wrong, Wrong\nD. Not wrong, Not wrong\nAnswer:';
    const algebra = 'If 3x + 5 = 20, what is the value of x?\nA. 3\nB. 5\nC. 7\nD. 15\nAnswer:';
    const v4 = createLearnedTierChooser({ version: 'v4' });
    assert.ok(
      v5.score(chat(moral)) - v5.score(chat(algebra)) > v4.score(chat(moral)) - v4.score(chat(algebra)),
      'the head widens the gap between the two subjects',
    );
  });
});
