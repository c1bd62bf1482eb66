import { combine, FNV_OFFSET, hashString, mix32 } from './hash.ts';

/**
 * Feature extraction for the learned tier router: one linear pass over the prompt text that yields
 *   - hashed sparse features: lower-cased word unigrams and bigrams (digits folded to `0`, so numbers count
 *     by shape), and single symbol characters that mark maths and code (`=`, `$`, `{`, `|`, ...), each with
 *     a hash sign to keep collisions unbiased;
 *   - dense features: lengths, counts of numbers, maths symbols, code signs, lines, question marks,
 *     multiple-choice option lines, plus the request's context (conversation depth, system prompt, tools,
 *     images, JSON output), as one-hot bins where the effect is not monotone.
 *
 * Multiple-choice prompts (two or more option lines "A." ... "D.") get a second, format-salted copy of every
 * sparse feature, so the model can learn that the same words mean different things in a quiz and in an open
 * question (maths: the weak model loses most on open word problems, not on multiple-choice maths).
 *
 * Cost is linear in the text read and allocation-free: results go into a caller-owned FeatureBuffer that is
 * reused from one prompt to the next. Text longer than READ_CHARS (HEAD_CHARS + TAIL_CHARS = 1,024
 * characters, about 250 tokens) is read only at its head and its tail, where the instruction and the question
 * usually are; its true length still counts in the dense features, and other counts are scaled up from the
 * part read. This bounds the cost at any prompt length (research/routing/log.md). The window was 2,048
 * characters until the fifth round: halving it halved the cost of long prompts and moved no cross-validated
 * APGR beyond noise (1,681 of the 15,416 training prompts are cut, mostly MMLU reading passages).
 */

export const FEATURE_VERSION = 1;
export const HEAD_CHARS = 512;
export const TAIL_CHARS = 512;
/**
 * Characters read of a long prompt. Assets record the window they were trained with (`readChars`; absent
 * means 2,048, the window before it was halved) and a model refuses an asset trained on another window.
 */
export const READ_CHARS = HEAD_CHARS + TAIL_CHARS;
/** The window of assets that do not record one. */
export const LEGACY_READ_CHARS = 2048;

/** Throws unless an asset was trained on the window this code reads. */
export function checkReadChars(readChars: number | undefined): void {
  const trained = readChars ?? LEGACY_READ_CHARS;
  if (trained !== READ_CHARS) {
    throw new Error(`router asset trained on a ${trained}-character window, this code reads ${READ_CHARS}`);
  }
}

/** Context of the prompt beyond its text; all zero for the single-turn training rows. */
export interface PromptContext {
  /** Number of earlier user turns in the conversation. */
  priorTurns: number;
  systemChars: number;
  toolCount: number;
  imageCount: number;
  jsonOutput: boolean;
}

export const EMPTY_CONTEXT: Readonly<PromptContext> = Object.freeze({
  priorTurns: 0,
  systemChars: 0,
  toolCount: 0,
  imageCount: 0,
  jsonOutput: false,
});

// ---- dense layout: continuous features first, then one-hot bin blocks ----
const D_LOG_CHARS = 0;
const D_LOG_WORDS = 1;
const D_DIGIT_RATIO = 2;
const D_LOG_NUMBERS = 3;
const D_LOG_MATH = 4;
const D_LOG_CODE = 5;
const D_LOG_LINES = 6;
const D_LOG_QUESTIONS = 7;
const D_LOG_OPTIONS = 8;
const D_MEAN_WORD_LEN = 9;
const D_UPPER_RATIO = 10;
const D_NON_ASCII_RATIO = 11;
const D_LOG_LONG_NUMBERS = 12;
const D_LOG_SENTENCES = 13;
const D_CODE_FENCE = 14;
const D_LOG_PRIOR_TURNS = 15;
const D_HAS_SYSTEM = 16;
const D_LOG_SYSTEM_CHARS = 17;
const D_HAS_TOOLS = 18;
const D_HAS_IMAGES = 19;
const D_JSON_OUTPUT = 20;
const CONTINUOUS = 21;

/** Bin edges, on log1p of the count, for the features whose effect need not be monotone. */
// The first length bin holds everything under ~90 characters: the training data has almost no prompts that
// short (6 rows between 33 and 54 characters), too few to give shorter bins a weight of their own.
const LENGTH_EDGES = [4.5, 5, 5.5, 6, 6.5, 7, 7.5, 8];
const NUMBER_EDGES = [0.5, 1.2, 1.7, 2.1, 2.5, 3];
const LINE_EDGES = [0.5, 1.2, 1.7, 2.3, 3];
const B_LENGTH = CONTINUOUS;
const B_NUMBERS = B_LENGTH + LENGTH_EDGES.length + 1;
const B_LINES = B_NUMBERS + NUMBER_EDGES.length + 1;

export const DENSE_SIZE = B_LINES + LINE_EDGES.length + 1;

export const DENSE_NAMES: readonly string[] = (() => {
  const names = [
    'log_chars',
    'log_words',
    'digit_ratio',
    'log_numbers',
    'log_math_symbols',
    'log_code_signs',
    'log_lines',
    'log_question_marks',
    'log_option_lines',
    'mean_word_length',
    'upper_ratio',
    'non_ascii_ratio',
    'log_long_numbers',
    'log_sentences',
    'code_fence',
    'log_prior_turns',
    'has_system',
    'log_system_chars',
    'has_tools',
    'has_images',
    'json_output',
  ];
  for (let i = 0; i <= LENGTH_EDGES.length; i++) names.push(`length_bin_${i}`);
  for (let i = 0; i <= NUMBER_EDGES.length; i++) names.push(`numbers_bin_${i}`);
  for (let i = 0; i <= LINE_EDGES.length; i++) names.push(`lines_bin_${i}`);
  return names;
})();

const BIGRAM_SALT = hashString('bigram');
const SYMBOL_SALT = hashString('symbol');
const CHOICE_SALT = hashString('multiple-choice');

/** Character classes, looked up once per character; 0 (the table's default) is any other separator. */
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

/** Reusable output of `extractFeatures`. `count` sparse entries are valid; `dense` is fully overwritten. */
export interface FeatureBuffer {
  /** Bucket index of each sparse entry, in [0, 2^hashBits). */
  index: Int32Array;
  /** Signed value of each sparse entry (±1/sqrt(tokens)). */
  value: Float64Array;
  count: number;
  dense: Float64Array;
  /**
   * Full 32-bit hash of each word read, in reading order (`wordCount` valid): learned-v5's subject head takes
   * its buckets from their top bits (subject-head.ts). One store per word; the sparse features ignore it.
   */
  words: Int32Array;
  wordCount: number;
  /** Two or more option lines in the part read: a multiple-choice prompt (it got the format-salted copy). */
  choice: boolean;
  readonly hashBits: number;
}

export function createFeatureBuffer(hashBits: number): FeatureBuffer {
  // A separator emits at most three entries (the unigram and bigram of the word it ends, and its own symbol)
  // and follows at least one word character, so a read yields at most 1.5 entries per character plus the
  // final flush; multiple-choice prompts get every entry twice. Typed arrays drop writes past their end
  // silently, so this bound matters.
  const capacity = 4 * (HEAD_CHARS + TAIL_CHARS) + 16;
  return {
    index: new Int32Array(capacity),
    value: new Float64Array(capacity),
    count: 0,
    dense: new Float64Array(DENSE_SIZE),
    // A word takes at least one character and its separator (the final flush adds one).
    words: new Int32Array((HEAD_CHARS + TAIL_CHARS) / 2 + 16),
    wordCount: 0,
    choice: false,
    hashBits,
  };
}

/** Counts gathered by `scan`, module-level so that a scan allocates nothing. */
const stats = {
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
};

function resetStats(): void {
  stats.words = 0;
  stats.wordChars = 0;
  stats.numbers = 0;
  stats.longNumbers = 0;
  stats.digits = 0;
  stats.math = 0;
  stats.code = 0;
  stats.lines = 0;
  stats.questions = 0;
  stats.sentences = 0;
  stats.options = 0;
  stats.upper = 0;
  stats.nonAscii = 0;
  stats.fence = 0;
}

/** Hash key of each maths/code symbol, computed once. */
const SYMBOL_KEY = new Int32Array(128);
for (let c = 0; c < 128; c++) SYMBOL_KEY[c] = combine(SYMBOL_SALT, c);

/**
 * Reads text[from, to) once. Everything lives in local variables (the hot loop touches no object but the
 * output arrays); a word is emitted when a separator ends it, with its bigram with the word before.
 */
function scan(text: string, from: number, to: number, out: FeatureBuffer, mask: number): void {
  // Module-level bindings cost a context load and a hole check at every use in V8; the loop reads locals.
  const classOf = CLASS;
  const symbolKey = SYMBOL_KEY;
  const bigramSalt = BIGRAM_SALT;
  const fnvOffset = FNV_OFFSET;
  const LOWER = C_LOWER;
  const UPPER = C_UPPER;
  const DIGIT = C_DIGIT;
  const SPACE = C_SPACE;
  const NEWLINE = C_NEWLINE;
  const MATH = C_MATH;
  const CODE = C_CODE;
  const QUESTION = C_QUESTION;
  const SENTENCE_END = C_SENTENCE_END;
  const index = out.index;
  const value = out.value;
  const wordHashes = out.words;
  let n = out.count;
  let wordCount = out.wordCount;
  let hash = fnvOffset;
  let len = 0;
  let digitsInWord = 0;
  let prevHash = 0;
  let hasPrev = false;
  let lineStart = true;
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
  // One step past the end reads a virtual space that flushes the last word.
  for (let i = from; i <= to; i++) {
    const c = i < to ? text.charCodeAt(i) : 32;
    const cls = c < 128 ? classOf[c]! : LOWER;
    if (cls === LOWER) {
      if (c >= 128) nonAscii++;
      hash = Math.imul(hash ^ c, 0x01000193);
      len++;
      lineStart = false;
      continue;
    }
    if (cls === UPPER) {
      upper++;
      // An option line starts with a capital letter followed by `.` or `)`: "A. ...", "B) ...".
      if (lineStart && len === 0 && i + 1 < to) {
        const next = text.charCodeAt(i + 1);
        if (next === 46 || next === 41) options++;
      }
      hash = Math.imul(hash ^ (c + 32), 0x01000193);
      len++;
      lineStart = false;
      continue;
    }
    if (cls === DIGIT) {
      digits++;
      digitsInWord++;
      hash = Math.imul(hash ^ 48, 0x01000193);
      len++;
      lineStart = false;
      continue;
    }
    // A dot between digits ("3.5") stays inside the number.
    if (c === 46 && digitsInWord > 0 && i + 1 < to) {
      const next = text.charCodeAt(i + 1);
      if (next >= 48 && next <= 57) continue;
    }
    if (len > 0) {
      const word = mix32(hash);
      wordHashes[wordCount++] = word;
      index[n] = word & mask;
      // The top bit is independent of the low bits used for the bucket: an unbiased sign.
      value[n] = word < 0 ? -1 : 1;
      n++;
      if (hasPrev) {
        const pair = combine(prevHash ^ bigramSalt, word);
        index[n] = pair & mask;
        value[n] = pair < 0 ? -1 : 1;
        n++;
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
      case SPACE:
        break;
      case NEWLINE:
        lines++;
        lineStart = true;
        break;
      case MATH:
      case CODE: {
        if (cls === MATH) math++;
        else {
          code++;
          if (c === 96 && i + 2 < to && text.charCodeAt(i + 1) === 96 && text.charCodeAt(i + 2) === 96) fence = 1;
        }
        const key = symbolKey[c]!;
        index[n] = key & mask;
        value[n] = key < 0 ? -1 : 1;
        n++;
        lineStart = false;
        break;
      }
      case QUESTION:
        questions++;
        sentences++;
        lineStart = false;
        break;
      case SENTENCE_END:
        sentences++;
        lineStart = false;
        break;
      default:
        lineStart = false;
    }
  }
  out.count = n;
  out.wordCount = wordCount;
  stats.words += words;
  stats.wordChars += wordChars;
  stats.numbers += numbers;
  stats.longNumbers += longNumbers;
  stats.digits += digits;
  stats.math += math;
  stats.code += code;
  stats.lines += lines;
  stats.questions += questions;
  stats.sentences += sentences;
  stats.options += options;
  stats.upper += upper;
  stats.nonAscii += nonAscii;
  stats.fence = Math.max(stats.fence, fence);
}

function bin(value: number, edges: readonly number[]): number {
  let i = 0;
  while (i < edges.length && value >= edges[i]!) i++;
  return i;
}

/**
 * Fills `out` with the features of `text` (the last user turn) in its `context`. Deterministic; allocates
 * nothing; reads at most HEAD_CHARS + TAIL_CHARS characters.
 */
export function extractFeatures(text: string, context: PromptContext, out: FeatureBuffer): void {
  const mask = (1 << out.hashBits) - 1;
  out.count = 0;
  out.wordCount = 0;
  resetStats();
  const length = text.length;
  let read: number;
  if (length <= HEAD_CHARS + TAIL_CHARS) {
    scan(text, 0, length, out, mask);
    read = length;
  } else {
    scan(text, 0, HEAD_CHARS, out, mask);
    scan(text, length - TAIL_CHARS, length, out, mask);
    read = HEAD_CHARS + TAIL_CHARS;
  }

  // Multiple-choice prompts: a format-salted copy of every sparse feature (see the note at the top).
  out.choice = stats.options >= 2;
  if (out.choice) {
    const n0 = out.count;
    for (let i = 0; i < n0; i++) {
      out.index[n0 + i] = mix32(out.index[i]! ^ CHOICE_SALT) & mask;
      out.value[n0 + i] = out.value[i]!;
    }
    out.count = 2 * n0;
  }

  // Term-frequency values scaled by 1/sqrt(n): long prompts do not get larger scores merely by being long.
  const n = out.count;
  if (n > 0) {
    const scale = 1 / Math.sqrt(n);
    const value = out.value;
    for (let i = 0; i < n; i++) value[i] = value[i]! * scale;
  }

  // Counts seen in a partial read are scaled up to the whole text.
  const scaleUp = length / (read || 1);
  const d = out.dense;
  d.fill(0);
  const logChars = Math.log1p(length);
  const words = stats.words * scaleUp;
  const numbers = stats.numbers * scaleUp;
  const lines = stats.lines * scaleUp;
  d[D_LOG_CHARS] = logChars;
  d[D_LOG_WORDS] = Math.log1p(words);
  d[D_DIGIT_RATIO] = stats.digits / (read || 1);
  d[D_LOG_NUMBERS] = Math.log1p(numbers);
  d[D_LOG_MATH] = Math.log1p(stats.math * scaleUp);
  d[D_LOG_CODE] = Math.log1p(stats.code * scaleUp);
  d[D_LOG_LINES] = Math.log1p(lines);
  d[D_LOG_QUESTIONS] = Math.log1p(stats.questions * scaleUp);
  d[D_LOG_OPTIONS] = Math.log1p(stats.options * scaleUp);
  d[D_MEAN_WORD_LEN] = stats.words > 0 ? stats.wordChars / stats.words / 10 : 0;
  d[D_UPPER_RATIO] = stats.upper / (read || 1);
  d[D_NON_ASCII_RATIO] = stats.nonAscii / (read || 1);
  d[D_LOG_LONG_NUMBERS] = Math.log1p(stats.longNumbers * scaleUp);
  d[D_LOG_SENTENCES] = Math.log1p(stats.sentences * scaleUp);
  d[D_CODE_FENCE] = stats.fence;
  d[D_LOG_PRIOR_TURNS] = Math.log1p(context.priorTurns);
  d[D_HAS_SYSTEM] = context.systemChars > 0 ? 1 : 0;
  d[D_LOG_SYSTEM_CHARS] = Math.log1p(context.systemChars);
  d[D_HAS_TOOLS] = context.toolCount > 0 ? 1 : 0;
  d[D_HAS_IMAGES] = context.imageCount > 0 ? 1 : 0;
  d[D_JSON_OUTPUT] = context.jsonOutput ? 1 : 0;
  d[B_LENGTH + bin(logChars, LENGTH_EDGES)] = 1;
  d[B_NUMBERS + bin(Math.log1p(numbers), NUMBER_EDGES)] = 1;
  d[B_LINES + bin(Math.log1p(lines), LINE_EDGES)] = 1;
}
