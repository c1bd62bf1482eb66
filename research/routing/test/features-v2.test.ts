import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFeatureBuffer, DENSE_SIZE, EMPTY_CONTEXT, extractFeatures } from '../../../src/router/auto/features.ts';
import { SAMPLE_PROMPTS } from '../../../test/router/helpers.ts';
import { decodeIdf, encodeIdf } from '../asset-v2.ts';
import {
  createFeatureBufferV2,
  extractFeaturesV2,
  type FeatureBufferV2,
  type FeatureSpecV2,
  weighEntries,
} from '../features-v2.ts';
import { isMultipleChoice } from '../model-v2.ts';
import { IDF_LEVELS, IDF_MAX, idfFromLevels } from '../offline/matrix-v2.ts';
import { seededRandom } from '../offline/numeric.ts';

const SPEC: FeatureSpecV2 = { hashBits: 14, headBits: 10, headWords: 64, choiceCopy: false, optionCopy: true };

function entries(buffer: FeatureBufferV2) {
  return Array.from({ length: buffer.count }, (_, k) => ({
    index: buffer.index[k]!,
    value: buffer.value[k]!,
    head: buffer.head[k]!,
  }));
}

const QUIZ = 'Which of the following is a prime number?\nA. 21\nB. 27\nC. 29\nD. 33\nAnswer:';

describe('v2 features', () => {
  it('are deterministic, whatever the buffer saw before', () => {
    const a = createFeatureBufferV2(SPEC);
    const b = createFeatureBufferV2(SPEC);
    const idf = new Float32Array(1 << SPEC.hashBits).fill(2);
    extractFeaturesV2('unrelated text with 42 numbers = and {code}', EMPTY_CONTEXT, b, idf);
    for (const text of SAMPLE_PROMPTS) {
      extractFeaturesV2(text, EMPTY_CONTEXT, a, idf);
      const first = { e: entries(a), d: Array.from(a.dense), c: a.choice };
      extractFeaturesV2(text, EMPTY_CONTEXT, b, idf);
      assert.deepEqual({ e: entries(b), d: Array.from(b.dense), c: b.choice }, first);
    }
  });

  it('merges repeated tokens into one counted entry per bucket', () => {
    const buffer = createFeatureBufferV2(SPEC);
    extractFeaturesV2('alpha beta alpha beta alpha', EMPTY_CONTEXT, buffer);
    // Unigrams alpha (3) and beta (2); bigrams "alpha beta" (2) and "beta alpha" (2).
    const counts = entries(buffer)
      .map((e) => e.value)
      .sort();
    assert.deepEqual(counts, [2, 2, 2, 3]);
    // An open prompt: nothing for the subject head.
    assert.equal(entries(buffer).filter((e) => e.head >= 0).length, 0);
  });

  it('hands the subject head the first `headWords` distinct words of a quiz', () => {
    const buffer = createFeatureBufferV2({ ...SPEC, headWords: 3 });
    extractFeaturesV2('alpha beta alpha gamma delta epsilon?\nA. one\nB. two', EMPTY_CONTEXT, buffer);
    const heads = entries(buffer).filter((e) => e.head >= 0);
    assert.equal(heads.length, 3);
    for (const e of heads) assert.ok(e.head < 1 << SPEC.headBits);
    const wide = createFeatureBufferV2(SPEC);
    extractFeaturesV2('alpha beta alpha gamma delta epsilon?\nA. one\nB. two', EMPTY_CONTEXT, wide);
    // alpha beta gamma delta epsilon a one b two: nine distinct words.
    assert.equal(entries(wide).filter((e) => e.head >= 0).length, 9);
  });

  it('weighs entries by (1 + ln count) x idf into a unit vector', () => {
    const index = Int32Array.from([0, 1, 2]);
    const value = Float64Array.from([1, Math.E, 1]);
    weighEntries(index, value, 0, 3, [1, 1, 0]);
    assert.ok(Math.abs(value[0]! - 1 / Math.sqrt(5)) < 1e-12);
    assert.ok(Math.abs(value[1]! - 2 / Math.sqrt(5)) < 1e-12);
    assert.equal(value[2], 0);
    const buffer = createFeatureBufferV2(SPEC);
    extractFeaturesV2(SAMPLE_PROMPTS[4]!, EMPTY_CONTEXT, buffer, new Float32Array(1 << SPEC.hashBits).fill(3));
    let norm = 0;
    for (const e of entries(buffer)) norm += e.value * e.value;
    assert.ok(Math.abs(norm - 1) < 1e-9);
  });

  it("stores idf as one-byte levels whose values are exactly the trainer's float32 idf", () => {
    const levels = Uint8Array.from({ length: 1 << SPEC.hashBits }, (_, i) => (i * 7919) % 256);
    const table = idfFromLevels(levels);
    const stored = decodeIdf(encodeIdf(levels, IDF_MAX, IDF_LEVELS), SPEC.hashBits);
    assert.deepEqual(stored.levels, levels);
    for (let b = 0; b < levels.length; b++) assert.equal(stored.value[stored.levels[b]!], table[b]);
  });

  it('merges exactly one entry per bucket, even when a prompt fills much of the merge table', () => {
    // Short distinct words at 2^18 buckets: hundreds of entries, probe chains in the merge table.
    const random = seededRandom(5);
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    const word = () => Array.from({ length: 2 }, () => letters[Math.floor(random() * 26)]).join('');
    const text = Array.from({ length: 700 }, word).join(' ');
    const buffer = createFeatureBufferV2({ ...SPEC, hashBits: 18 });
    for (const t of [text, `${text}\nA. x\nB. y`, text]) {
      extractFeaturesV2(t, EMPTY_CONTEXT, buffer);
      const seen = new Map<number, number>();
      for (const e of entries(buffer)) {
        assert.equal(seen.has(e.index), false, `bucket ${e.index} twice`);
        seen.set(e.index, e.value);
      }
      // Every token was counted once (no choice copy in SPEC): counts add up to the tokens scanned.
      assert.equal(
        [...seen.values()].reduce((a, b) => a + b, 0),
        buffer.scan.count,
      );
      // The 1,024 characters read hold ~340 two-letter words: ~680 word and bigram entries.
      assert.ok(buffer.count > 600, `${buffer.count} entries`);
    }
  });

  it('keeps merging right across many prompts (generation wrap of the bucket table)', () => {
    const buffer = createFeatureBufferV2(SPEC);
    extractFeaturesV2('alpha beta alpha', EMPTY_CONTEXT, buffer);
    const first = entries(buffer);
    for (let i = 0; i < (1 << 17) + 5; i++)
      extractFeaturesV2(i % 2 ? 'alpha' : 'beta gamma beta', EMPTY_CONTEXT, buffer);
    extractFeaturesV2('alpha beta alpha', EMPTY_CONTEXT, buffer);
    assert.deepEqual(entries(buffer), first);
  });

  it('flags multiple-choice prompts and copies their option-line tokens', () => {
    const buffer = createFeatureBufferV2(SPEC);
    extractFeaturesV2(QUIZ, EMPTY_CONTEXT, buffer);
    assert.equal(buffer.choice, true);
    const withCopy = buffer.count;
    const noCopy = createFeatureBufferV2({ ...SPEC, optionCopy: false });
    extractFeaturesV2(QUIZ, EMPTY_CONTEXT, noCopy);
    assert.ok(withCopy > noCopy.count, `${withCopy} vs ${noCopy.count}`);
    // The copies are not words for the head.
    assert.equal(entries(buffer).filter((e) => e.head >= 0).length, entries(noCopy).filter((e) => e.head >= 0).length);
    extractFeaturesV2('What is the capital of France?', EMPTY_CONTEXT, buffer);
    assert.equal(buffer.choice, false);
  });

  it("keeps v1's dense block, value for value", () => {
    const v1 = createFeatureBuffer(16);
    const v2 = createFeatureBufferV2(SPEC);
    const context = { priorTurns: 2, systemChars: 40, toolCount: 1, imageCount: 0, jsonOutput: true };
    for (const text of [...SAMPLE_PROMPTS, 'x'.repeat(9000)]) {
      extractFeatures(text, context, v1);
      extractFeaturesV2(text, context, v2);
      assert.equal(v2.dense.length, DENSE_SIZE);
      assert.deepEqual(Array.from(v2.dense), Array.from(v1.dense));
    }
  });

  it('tells quizzes from open prompts before reading them, as the scan counts option lines', () => {
    const buffer = createFeatureBufferV2(SPEC);
    const texts = [
      ...SAMPLE_PROMPTS,
      QUIZ,
      'A. only one option line',
      'A) one\nB) two',
      '  A. indented\n  B. lines',
      'x\nA.\nB.',
      `${'long passage '.repeat(400)}\nA. one\nB. two\nAnswer:`,
      `A. first\n${'filler '.repeat(600)}B. far away`,
      `A. one\nB. two\n${'filler '.repeat(600)}`,
    ];
    for (const text of texts) {
      extractFeaturesV2(text, EMPTY_CONTEXT, buffer);
      assert.equal(isMultipleChoice(text), buffer.choice, JSON.stringify(text.slice(0, 40)));
    }
    // Random texts over the characters that matter, short and beyond the read window.
    const random = seededRandom(5);
    const alphabet = ['A', 'B', 'c', '.', ')', ' ', '\t', '\r', '\n', 'x ', '1'];
    for (let t = 0; t < 500; t++) {
      const size = t % 2 === 0 ? 30 : 2100 + Math.floor(random() * 200);
      let text = '';
      for (let k = 0; k < size; k++) text += alphabet[Math.floor(random() * alphabet.length)];
      extractFeaturesV2(text, EMPTY_CONTEXT, buffer);
      assert.equal(isMultipleChoice(text), buffer.choice, JSON.stringify(text.slice(0, 40)));
    }
    assert.equal(isMultipleChoice(QUIZ), true);
    assert.equal(isMultipleChoice('What is the capital of France?'), false);
  });

  it('reads long and non-ASCII texts within its buffers', () => {
    const buffer = createFeatureBufferV2(SPEC);
    for (const text of [
      'a '.repeat(50_000),
      'x\n'.repeat(20_000),
      '🙂 ünïcödé テキスト '.repeat(2000),
      `${QUIZ} `.repeat(400),
    ]) {
      extractFeaturesV2(text, EMPTY_CONTEXT, buffer, new Float32Array(1 << SPEC.hashBits).fill(1));
      assert.ok(buffer.count > 0 && buffer.count <= buffer.index.length);
      for (const e of entries(buffer))
        assert.ok(Number.isFinite(e.value) && e.index >= 0 && e.index < 1 << SPEC.hashBits);
    }
  });
});
