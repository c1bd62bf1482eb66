import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFeatureBuffer, EMPTY_CONTEXT, extractFeatures } from '../../src/router/auto/features.ts';
import {
  createSubjectHeadScratch,
  MAX_HEAD_WORDS,
  type SubjectHead,
  subjectHeadFromAsset,
  subjectHeadInputs,
  subjectHeadOffset,
} from '../../src/router/auto/subject-head.ts';
import { seeded } from '../store/support.ts';

/** A head with random int8 weights over `classes` classes (and those weights), for the arithmetic checks. */
function randomHead(
  seed: number,
  classes: number,
  headBits = 8,
  words = 16,
): { head: SubjectHead; weights: Int8Array } {
  const random = seeded(seed);
  const weights = Int8Array.from({ length: (1 << headBits) * classes }, () => Math.floor(random() * 256) - 128);
  const stored = {
    headBits,
    words,
    classes: Array.from({ length: classes }, (_, c) => `mmlu/s${c}`),
    encoding: 'int8-base64' as const,
    scales: Array.from({ length: classes }, () => 0.001 + random() * 0.05),
    data: Buffer.from(weights.buffer).toString('base64'),
    bias: Array.from({ length: classes }, () => random() - 0.5),
    gains: Array.from({ length: classes }, () => (random() - 0.5) * 2),
    weight: 3,
  };
  return { head: subjectHeadFromAsset(stored), weights };
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
    const words = Array.from(buffer.words.subarray(0, buffer.wordCount));
    // One hash per word the scan read: nine in the question, two in each option line ("A", "Mars").
    assert.equal(words.length, 17);

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

  it('sums the int8 weights of the buckets read three classes at a time, as plain integer sums would', () => {
    for (const classes of [7, 57, 58]) {
      const { head, weights } = randomHead(5 + classes, classes);
      const scratch = createSubjectHeadScratch(head);
      const random = seeded(9);
      for (let trial = 0; trial < 200; trial++) {
        const m = 1 + Math.floor(random() * head.words);
        for (let k = 0; k < m; k++) scratch.buckets[k] = Math.floor(random() * (1 << head.headBits));
        // The packed three-lane sums are the plain integer sums: the same number, bit for bit.
        assert.equal(subjectHeadOffset(head, scratch, m), plainOffset(head, weights, scratch.buckets, m));
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
    const random = seeded(1);
    const weights = Int8Array.from({ length: 256 * 3 }, () => Math.floor(random() * 256) - 128);
    const stored = {
      headBits: 8,
      words: 16,
      classes: ['mmlu/a', 'mmlu/b', 'mmlu/c'],
      encoding: 'int8-base64' as const,
      scales: [0.01, 0.02, 0.03],
      data: Buffer.from(weights.buffer).toString('base64'),
      bias: [0, 0, 0],
      gains: [0.1, 0, -0.1],
      weight: 3,
    };
    assert.equal(subjectHeadFromAsset(stored).classes, 3);
    assert.throws(() => subjectHeadFromAsset({ ...stored, gains: [0, 0] }), /subject head/);
    assert.throws(() => subjectHeadFromAsset({ ...stored, headBits: 9 }), /head weights/);
    assert.throws(() => subjectHeadFromAsset({ ...stored, words: 0 }), /subject head: words/);
    const { data: _, ...fields } = stored;
    const file = { ...fields, encoding: 'int8-file' as const, file: 'weights-x-head.bin', sha256: '' };
    assert.throws(() => subjectHeadFromAsset(file), /weights-x-head\.bin not read/);
    assert.throws(
      () => subjectHeadFromAsset({ ...file, bytes: new Uint8Array(10) }),
      /10 bytes in weights-x-head\.bin/,
    );
  });
});
