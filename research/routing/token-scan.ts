import { combine, FNV_OFFSET, hashString, mix32 } from '../../src/router/auto/hash.ts';

/**
 * The text scan of the v2 router features: one linear pass that emits a 32-bit hash per token, with its kind
 * (word, word bigram, maths/code symbol), and the counts behind the dense features. Same tokenisation as v1
 * (`features.ts`, kept frozen so that `weights-v1.json` keeps its meaning): lower-cased words with digits
 * folded to `0`, a dot between digits kept inside the number, option lines "A." / "B)" counted.
 *
 * Differences from v1: full hashes and kinds are kept (v2 aggregates repeated tokens per bucket and weighs
 * them by tf-idf, and its subject head reads words only), and tokens on multiple-choice option lines can be
 * emitted a second time in an option namespace. Allocation-free: everything goes into a caller-owned
 * TokenScan reused from one prompt to the next.
 */

export const KIND_WORD = 0;
export const KIND_BIGRAM = 1;
export const KIND_SYMBOL = 2;
/** Copies (multiple-choice format, option lines): never read by the subject head. */
export const KIND_COPY = 3;

const BIGRAM_SALT = hashString('bigram');
const SYMBOL_SALT = hashString('symbol');
const OPTION_SALT = hashString('option-line');

const C_LOWER = 1;
const C_UPPER = 2;
const C_DIGIT = 3;
const C_MATH = 4;
const C_CODE = 5;
const C_SPACE = 6;
const C_NEWLINE = 7;
const C_QUESTION = 8;
const C_SENTENCE_END = 9;

const CLASS = new Uint8Array(128);
for (let c = 97; c <= 122; c++) CLASS[c] = C_LOWER;
for (let c = 65; c <= 90; c++) CLASS[c] = C_UPPER;
for (let c = 48; c <= 57; c++) CLASS[c] = C_DIGIT;
for (const ch of '=+*/^<>%$\\|~') CLASS[ch.charCodeAt(0)] = C_MATH;
for (const ch of '{}[]();`#_&@') CLASS[ch.charCodeAt(0)] = C_CODE;
CLASS[32] = C_SPACE;
CLASS[9] = C_SPACE;
CLASS[13] = C_SPACE;
CLASS[10] = C_NEWLINE;
CLASS[63] = C_QUESTION;
CLASS[46] = C_SENTENCE_END;
CLASS[33] = C_SENTENCE_END;

const SYMBOL_KEY = new Int32Array(128);
for (let c = 0; c < 128; c++) SYMBOL_KEY[c] = combine(SYMBOL_SALT, c);

/** Counts gathered by a scan (summed over the parts of the text that were read). */
export interface ScanStats {
  words: number;
  wordChars: number;
  numbers: number;
  longNumbers: number;
  digits: number;
  math: number;
  code: number;
  lines: number;
  questions: number;
  sentences: number;
  options: number;
  upper: number;
  nonAscii: number;
  fence: number;
}

export interface TokenScan {
  hash: Int32Array;
  kind: Uint8Array;
  count: number;
  stats: ScanStats;
}

export function createTokenScan(maxChars: number): TokenScan {
  // At most 1.5 tokens per character (a word of one letter, its bigram, a symbol per separator), each of
  // which may be copied once into the option namespace; typed arrays drop writes past their end silently.
  const capacity = 3 * maxChars + 16;
  return {
    hash: new Int32Array(capacity),
    kind: new Uint8Array(capacity),
    count: 0,
    stats: {
      words: 0,
      wordChars: 0,
      numbers: 0,
      longNumbers: 0,
      digits: 0,
      math: 0,
      code: 0,
      lines: 0,
      questions: 0,
      sentences: 0,
      options: 0,
      upper: 0,
      nonAscii: 0,
      fence: 0,
    },
  };
}

export function resetScan(out: TokenScan): void {
  out.count = 0;
  const s = out.stats;
  s.words = 0;
  s.wordChars = 0;
  s.numbers = 0;
  s.longNumbers = 0;
  s.digits = 0;
  s.math = 0;
  s.code = 0;
  s.lines = 0;
  s.questions = 0;
  s.sentences = 0;
  s.options = 0;
  s.upper = 0;
  s.nonAscii = 0;
  s.fence = 0;
}

/**
 * Scans text[from, to) and appends its tokens. With `optionCopy`, the tokens of an option line ("A. ...")
 * are emitted again under an option salt, so that a word can weigh differently in the answers than in the
 * question.
 */
export function scanTokens(text: string, from: number, to: number, out: TokenScan, optionCopy: boolean): void {
  const classOf = CLASS;
  const symbolKey = SYMBOL_KEY;
  const bigramSalt = BIGRAM_SALT;
  const optionSalt = OPTION_SALT;
  const fnvOffset = FNV_OFFSET;
  const hashes = out.hash;
  const kinds = out.kind;
  let n = out.count;
  let hash = fnvOffset;
  let len = 0;
  let digitsInWord = 0;
  let prevHash = 0;
  let hasPrev = false;
  let lineStart = true;
  let onOption = false;
  let words = 0;
  let wordChars = 0;
  let numbers = 0;
  let longNumbers = 0;
  let digits = 0;
  let math = 0;
  let code = 0;
  let lines = 0;
  let questions = 0;
  let sentences = 0;
  let options = 0;
  let upper = 0;
  let nonAscii = 0;
  let fence = 0;
  for (let i = from; i <= to; i++) {
    const c = i < to ? text.charCodeAt(i) : 32;
    const cls = c < 128 ? classOf[c]! : C_LOWER;
    if (cls === C_LOWER) {
      if (c >= 128) nonAscii++;
      hash = Math.imul(hash ^ c, 0x01000193);
      len++;
      lineStart = false;
      continue;
    }
    if (cls === C_UPPER) {
      upper++;
      if (lineStart && len === 0 && i + 1 < to) {
        const next = text.charCodeAt(i + 1);
        if (next === 46 || next === 41) {
          options++;
          onOption = optionCopy;
        }
      }
      hash = Math.imul(hash ^ (c + 32), 0x01000193);
      len++;
      lineStart = false;
      continue;
    }
    if (cls === C_DIGIT) {
      digits++;
      digitsInWord++;
      hash = Math.imul(hash ^ 48, 0x01000193);
      len++;
      lineStart = false;
      continue;
    }
    if (c === 46 && digitsInWord > 0 && i + 1 < to) {
      const next = text.charCodeAt(i + 1);
      if (next >= 48 && next <= 57) continue;
    }
    if (len > 0) {
      const word = mix32(hash);
      hashes[n] = word;
      kinds[n] = KIND_WORD;
      n++;
      if (onOption) {
        hashes[n] = combine(optionSalt, word);
        kinds[n] = KIND_COPY;
        n++;
      }
      if (hasPrev) {
        const pair = combine(prevHash ^ bigramSalt, word);
        hashes[n] = pair;
        kinds[n] = KIND_BIGRAM;
        n++;
        if (onOption) {
          hashes[n] = combine(optionSalt, pair);
          kinds[n] = KIND_COPY;
          n++;
        }
      }
      prevHash = word;
      hasPrev = true;
      words++;
      wordChars += len;
      if (digitsInWord === len) {
        numbers++;
        if (len >= 3) longNumbers++;
      }
      hash = fnvOffset;
      len = 0;
      digitsInWord = 0;
    }
    switch (cls) {
      case C_SPACE:
        break;
      case C_NEWLINE:
        lines++;
        lineStart = true;
        onOption = false;
        break;
      case C_MATH:
      case C_CODE: {
        if (cls === C_MATH) math++;
        else {
          code++;
          if (c === 96 && i + 2 < to && text.charCodeAt(i + 1) === 96 && text.charCodeAt(i + 2) === 96) fence = 1;
        }
        hashes[n] = symbolKey[c]!;
        kinds[n] = KIND_SYMBOL;
        n++;
        lineStart = false;
        break;
      }
      case C_QUESTION:
        questions++;
        sentences++;
        lineStart = false;
        break;
      case C_SENTENCE_END:
        sentences++;
        lineStart = false;
        break;
      default:
        lineStart = false;
    }
  }
  out.count = n;
  const s = out.stats;
  s.words += words;
  s.wordChars += wordChars;
  s.numbers += numbers;
  s.longNumbers += longNumbers;
  s.digits += digits;
  s.math += math;
  s.code += code;
  s.lines += lines;
  s.questions += questions;
  s.sentences += sentences;
  s.options += options;
  s.upper += upper;
  s.nonAscii += nonAscii;
  s.fence = Math.max(s.fence, fence);
}

/**
 * Option lines ("A. ..." / "B) ...") in text[from, to), counted exactly as `scanTokens` counts them (a capital
 * letter at the start of a line, or of the part read, after any spaces, followed by `.` or `)`), without
 * tokenising: the
 * router decides with it which model reads a prompt before reading it.
 */
export function countOptionLines(text: string, from: number, to: number): number {
  let options = 0;
  let i = from;
  while (i + 1 < to) {
    // The scan keeps a line's start through spaces, tabs and carriage returns.
    let c = text.charCodeAt(i);
    while ((c === 32 || c === 9 || c === 13) && i + 2 < to) c = text.charCodeAt(++i);
    if (c >= 65 && c <= 90) {
      const next = text.charCodeAt(i + 1);
      if (next === 46 || next === 41) options++;
    }
    const newline = text.indexOf('\n', i);
    if (newline < 0) break;
    i = newline + 1;
  }
  return options;
}
