import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createWordProblemScratch,
  readWordProblem,
  WORD_PROBLEM_FEATURES,
  WORD_PROBLEM_MAX_CHARS,
} from '../../src/router/auto/word-problem.ts';
import { SAMPLE_PROMPTS } from './helpers.ts';

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
