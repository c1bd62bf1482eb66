import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { countTokens, encode } from 'gpt-tokenizer';
import { isCleanCut, MAX_PIECE_CHARS, tokenPieces } from '../../src/tokens/token-pieces.ts';

/** As the worker counts: special tokens are plain text. */
const PLAIN = { disallowedSpecial: new Set<string>() };
const count = (text: string) => countTokens(text, PLAIN);
const inPieces = (text: string, max?: number) => {
  let total = 0;
  for (const piece of tokenPieces(text, max)) total += count(piece);
  return total;
};

/** Characters that meet at the edges of o200k_base's split regex: cases, contractions, marks, digits, pairs. */
const TRICKY = [
  ...'absleAZé\u0301\'’"17٣² \t\n.,!/{}:-_漢語ひЖßǅʰ\u200dकनाि्😀𝐀𠀀',
  ...['👩‍💻', '  ', '\r\n', '<|endoftext|>', 've', 'LL', 're', 'don', 'it', "'t", "'S", "'ll"],
];

describe('token pieces', () => {
  test('a clean cut never changes the tokens: encoding both sides gives the tokens of the whole', () => {
    const tokens = (text: string) => encode(text, PLAIN);
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TRICKY), { minLength: 2, maxLength: 40 }), (parts) => {
        const text = parts.join('');
        const whole = tokens(text);
        for (let at = 1; at < text.length; at++) {
          if (!isCleanCut(text, at)) continue;
          const sides = [...tokens(text.slice(0, at)), ...tokens(text.slice(at))];
          assert.deepEqual(sides, whole, `cut at ${at} of ${JSON.stringify(text)}`);
        }
      }),
      { numRuns: 1_000 },
    );
  });

  test('ordinary text counts exactly as it does whole: the docs, the sources, JSON, other scripts', () => {
    const root = join(import.meta.dirname, '..', '..');
    const texts = [
      ...readdirSync(join(root, 'docs'))
        .filter((name) => name.endsWith('.md'))
        .map((name) => readFileSync(join(root, 'docs', name), 'utf8')),
      ...['router/router.ts', 'router/auto/word-problem.ts', 'pipeline/pipeline.ts', 'config/schema.ts'].map((path) =>
        readFileSync(join(root, 'src', path), 'utf8'),
      ),
      JSON.stringify(JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'))),
      '自然语言处理是人工智能的一个分支，它研究如何让计算机理解和生成人类语言。'.repeat(30),
      '東京は日本の首都であり、世界有数の大都市です。'.repeat(40),
      `π ≈ ${'31415926535897932384626433832795028841971693993751'.repeat(30)}`,
    ];
    for (const text of texts) assert.equal(inPieces(text), count(text), text.slice(0, 80));
  });

  test('runs without a clean cut are cut hard: bounded pieces, nothing lost, no surrogate pair split', () => {
    for (const unit of ['x', 'X', '!', ' ', '\n\t', '7', '漢', '😀', 'é', 'a\u0301']) {
      const text = unit.repeat(Math.ceil(20_000 / unit.length));
      const pieces = [...tokenPieces(text)];
      assert.equal(pieces.join(''), text, unit);
      assert.ok(pieces.length >= text.length / MAX_PIECE_CHARS, unit);
      for (const piece of pieces) {
        assert.ok(piece.length <= MAX_PIECE_CHARS, `${JSON.stringify(unit)}: ${piece.length}`);
        assert.ok(piece.isWellFormed(), JSON.stringify(unit));
      }
    }
    // A digit run is cut three digits at a time from its start, as the tokenizer groups it: still exact.
    const digits = '7'.repeat(10_000);
    assert.equal(inPieces(digits), count(digits));
    // Elsewhere the count moves by about a token per cut at most.
    const run = 'xyz'.repeat(10_000);
    assert.ok(Math.abs(inPieces(run) - count(run)) <= run.length / MAX_PIECE_CHARS + 1);
  });

  test('a piece is never longer than asked, for any text and bound', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TRICKY)), fc.integer({ min: 2, max: 40 }), (parts, max) => {
        const text = parts.join('');
        const pieces = [...tokenPieces(text, max)];
        assert.equal(pieces.join(''), text);
        for (const piece of pieces) assert.ok(piece.length > 0 && piece.length <= max);
      }),
    );
  });
});
