import { FNV_OFFSET, fnvStep, hashString, mix32 } from './hash.ts';

/**
 * Maths word problems (GSM8K-style): a cheap detector and the dense features of the word-problem head that
 * learned-v5 adds on such prompts (model.ts; first built for learned-v3). One pass over the text, no
 * allocation: words are hashed (FNV-1a on lower-cased letters) and looked up in a small table of cue words;
 * numbers are parsed in place.
 *
 * Why a head of its own: on open maths word problems the weak model's losses depend on how the problem is
 * built (how many quantities, decimals, money, multiplicative words such as "twice" or "half", how long it
 * is), and a dozen such counts, fitted on GSM8K rows only, rank GSM8K prompts better than v1's n-grams
 * trained on the whole mix, where 14,000 quizzes dominate (research/routing/log.md, "learned-v3").
 *
 * A word problem here is one paragraph (no line break) of at most MAX_CHARS characters, with no sign of
 * code ("function", "program", ...), at least two quantities (numerals or number words) and a question (it
 * ends with "?" or its last sentence asks how many / how much / what / calculate / find ...). That covers
 * 1,298 of GSM8K's 1,307 prompts, none of MMLU's quizzes (they have option lines) and 6 of MT-Bench's 72
 * (its maths questions).
 */

export const WORD_PROBLEM_MAX_CHARS = 1500;

export const WORD_PROBLEM_FEATURES = [
  'logChars',
  'logTokens',
  'sentences',
  'numbers',
  'distinctNumbers',
  'numberWords',
  'multiplierWords',
  'quantities',
  'maxMagnitude',
  'meanMagnitude',
  'decimals',
  'fractions',
  'percentSigns',
  'dollarSigns',
  'timeWords',
  'moneyWords',
  'ofThe',
  'lastSentenceTokens',
  'commas',
  'largeNumbers',
  'roundNumbers',
  'cueThen',
  'cueEach',
  'cueTotal',
  'cueRemaining',
  'cueCompare',
  'cuePercent',
  'cueRate',
  'cueCondition',
  'cueChange',
  'cueUnits',
  'askWhat',
  'askHowMany',
  'askHowMuch',
] as const;

export const WORD_PROBLEM_SIZE = WORD_PROBLEM_FEATURES.length;

// Word classes, as bits: a word may belong to several.
const NUMBER_WORD = 1 << 0;
const MULTIPLIER = 1 << 1;
const TIME = 1 << 2;
const MONEY = 1 << 3;
const OF_OBJECT = 1 << 4;
const CODE = 1 << 5;
const ASK = 1 << 6;
const CUE_SHIFT = 7;
const CUES = [
  ['then', 'after', 'afterwards', 'later', 'next'],
  ['each', 'every', 'per'],
  ['total', 'altogether', 'combined', 'sum', 'all'],
  ['remaining', 'remainder', 'rest', 'left', 'leftover'],
  ['more', 'less', 'fewer', 'than', 'times'],
  ['percent', 'percentage'],
  ['rate', 'speed', 'average', 'ratio', 'proportion'],
  ['if', 'instead', 'unless', 'but', 'however', 'except'],
  ['increase', 'increases', 'increased', 'decrease', 'decreases', 'decreased', 'discount', 'tax', 'interest', 'raise'],
  [
    'inch',
    'inches',
    'feet',
    'foot',
    'mile',
    'miles',
    'pound',
    'pounds',
    'ounce',
    'ounces',
    'gallon',
    'gallons',
    'cup',
    'cups',
    'meter',
    'meters',
    'kilometer',
    'kilograms',
    'liters',
  ],
] as const;

const CLASSES = new Map<number, number>();
function addWords(words: string, bit: number): void {
  for (const word of words.split(' ')) CLASSES.set(hashString(word), (CLASSES.get(hashString(word)) ?? 0) | bit);
}
addWords(
  'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen ' +
    'eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million dozen dozens',
  NUMBER_WORD,
);
addWords('twice double triple thrice half quarter third thirds fourth fifth halves quadruple', MULTIPLIER);
addWords('second seconds minute minutes hour hours day days week weeks month months year years', TIME);
addWords(
  'dollar dollars cent cents cost costs price prices pay pays paid earn earns earned sell sells sold buy buys ' +
    'bought profit spend spends spent save saves saved charge charges',
  MONEY,
);
addWords('the her his their them those these it', OF_OBJECT);
addWords('implement function program code python algorithm', CODE);
addWords('how what calculate find determine compute many much', ASK);
CUES.forEach((words, k) => {
  addWords(words.join(' '), 1 << (CUE_SHIFT + k));
});
const H_OF = hashString('of');
const H_HOW = hashString('how');
const H_WHAT = hashString('what');
const H_MANY = hashString('many');
const H_MUCH = hashString('much');

const F_CHARS = 0;
const F_TOKENS = 1;
const F_SENTENCES = 2;
const F_NUMBERS = 3;
const F_DISTINCT = 4;
const F_NUMBER_WORDS = 5;
const F_MULTIPLIERS = 6;
const F_QUANTITIES = 7;
const F_MAX_MAG = 8;
const F_MEAN_MAG = 9;
const F_DECIMALS = 10;
const F_FRACTIONS = 11;
const F_PERCENT = 12;
const F_DOLLAR = 13;
const F_TIME = 14;
const F_MONEY = 15;
const F_OF_THE = 16;
const F_LAST = 17;
const F_COMMAS = 18;
const F_LARGE = 19;
const F_ROUND = 20;
const F_CUES = 21;
const F_ASK_WHAT = F_CUES + CUES.length;
const F_HOW_MANY = F_ASK_WHAT + 1;
const F_HOW_MUCH = F_ASK_WHAT + 2;

/** Features gathered as counts during the scan, turned into log1p(count) at its end. */
const COUNTED = Int32Array.of(
  F_NUMBER_WORDS,
  F_MULTIPLIERS,
  F_DECIMALS,
  F_FRACTIONS,
  F_PERCENT,
  F_DOLLAR,
  F_TIME,
  F_MONEY,
  F_OF_THE,
  F_COMMAS,
  F_LARGE,
  F_ROUND,
);

/** Distinct numeric values kept per prompt (more are counted as distinct). */
const DISTINCT_CAP = 64;

/** Caller-owned scratch state, reused from one prompt to the next. */
export interface WordProblemScratch {
  readonly features: Float64Array;
  readonly seen: Float64Array;
}

export function createWordProblemScratch(): WordProblemScratch {
  return { features: new Float64Array(WORD_PROBLEM_SIZE), seen: new Float64Array(DISTINCT_CAP) };
}

function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 160;
}

/**
 * Reads `text`; when it is a word problem, fills `scratch.features` (log1p counts, magnitudes, flags) and
 * returns true. Returns false (features unspecified) for anything else.
 */
export function readWordProblem(text: string, scratch: WordProblemScratch): boolean {
  let end = text.length;
  while (end > 0 && isSpace(text.charCodeAt(end - 1))) end--;
  let start = 0;
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  if (end - start > WORD_PROBLEM_MAX_CHARS || end - start === 0) return false;
  const f = scratch.features;
  const seen = scratch.seen;
  f.fill(0);
  let tokens = 0;
  let sentences = 0;
  let numbers = 0;
  let distinct = 0;
  let magSum = 0;
  let maxMag = 0;
  let prevWord = 0;
  // Tokens and asking words of the sentence being read, and of the last one completed.
  let sentenceTokens = 0;
  let sentenceAsk = 0;
  let sentenceWhat = 0;
  let sentenceHowMany = 0;
  let sentenceHowMuch = 0;
  let lastTokens = 0;
  let lastAsk = 0;
  let lastWhat = 0;
  let lastHowMany = 0;
  let lastHowMuch = 0;
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 10) return false;
    if (isLetter(c)) {
      let h = FNV_OFFSET;
      while (i < end) {
        const d = text.charCodeAt(i);
        if (d >= 97 && d <= 122) h = fnvStep(h, d);
        else if (d >= 65 && d <= 90) h = fnvStep(h, d + 32);
        else break;
        i++;
      }
      const word = mix32(h);
      tokens++;
      sentenceTokens++;
      const cls = CLASSES.get(word) ?? 0;
      if (cls !== 0) {
        if (cls & CODE) return false;
        if (cls & NUMBER_WORD) f[F_NUMBER_WORDS] = f[F_NUMBER_WORDS]! + 1;
        if (cls & MULTIPLIER) f[F_MULTIPLIERS] = f[F_MULTIPLIERS]! + 1;
        if (cls & TIME) f[F_TIME] = f[F_TIME]! + 1;
        if (cls & MONEY) f[F_MONEY] = f[F_MONEY]! + 1;
        if (cls & OF_OBJECT && prevWord === H_OF) f[F_OF_THE] = f[F_OF_THE]! + 1;
        if (cls & ASK) sentenceAsk = 1;
        for (let k = 0; k < CUES.length; k++) if (cls & (1 << (CUE_SHIFT + k))) f[F_CUES + k] = f[F_CUES + k]! + 1;
      }
      if (word === H_WHAT) sentenceWhat = 1;
      if (prevWord === H_HOW && word === H_MANY) sentenceHowMany = 1;
      if (prevWord === H_HOW && word === H_MUCH) sentenceHowMuch = 1;
      prevWord = word;
      continue;
    }
    if (isDigit(c)) {
      // A numeral: digits with thousands commas ("1,200") and one decimal part ("2.50").
      let value = 0;
      let decimal = false;
      let scale = 1;
      while (i < end) {
        const d = text.charCodeAt(i);
        if (isDigit(d)) {
          if (decimal) {
            scale /= 10;
            value += (d - 48) * scale;
          } else value = value * 10 + (d - 48);
          i++;
        } else if (
          d === 44 &&
          !decimal &&
          i + 3 < end &&
          isDigit(text.charCodeAt(i + 1)) &&
          isDigit(text.charCodeAt(i + 2)) &&
          isDigit(text.charCodeAt(i + 3)) &&
          !(i + 4 < end && isDigit(text.charCodeAt(i + 4)))
        ) {
          i++;
        } else if (d === 46 && !decimal && i + 1 < end && isDigit(text.charCodeAt(i + 1))) {
          decimal = true;
          i++;
        } else break;
      }
      numbers++;
      tokens++;
      sentenceTokens++;
      if (decimal) f[F_DECIMALS] = f[F_DECIMALS]! + 1;
      if (value >= 1000) f[F_LARGE] = f[F_LARGE]! + 1;
      if (value >= 10 && value % 10 === 0) f[F_ROUND] = f[F_ROUND]! + 1;
      const mag = Math.log10(value + 1);
      magSum += mag;
      if (mag > maxMag) maxMag = mag;
      let known = false;
      const kept = Math.min(distinct, DISTINCT_CAP);
      for (let k = 0; k < kept; k++) {
        if (seen[k] === value) {
          known = true;
          break;
        }
      }
      if (!known) {
        if (distinct < DISTINCT_CAP) seen[distinct] = value;
        distinct++;
      }
      prevWord = 0;
      continue;
    }
    if (c === 46 || c === 33 || c === 63) {
      // A sentence ends at . ! ? followed by a space or the end of the text.
      if (i + 1 >= end || isSpace(text.charCodeAt(i + 1))) {
        if (sentenceTokens > 0) {
          sentences++;
          lastTokens = sentenceTokens;
          lastAsk = sentenceAsk;
          lastWhat = sentenceWhat;
          lastHowMany = sentenceHowMany;
          lastHowMuch = sentenceHowMuch;
        }
        sentenceTokens = 0;
        sentenceAsk = 0;
        sentenceWhat = 0;
        sentenceHowMany = 0;
        sentenceHowMuch = 0;
      }
    } else if (c === 47) {
      if (i > start && isDigit(text.charCodeAt(i - 1)) && i + 1 < end && isDigit(text.charCodeAt(i + 1)))
        f[F_FRACTIONS] = f[F_FRACTIONS]! + 1;
    } else if (c === 37) f[F_PERCENT] = f[F_PERCENT]! + 1;
    else if (c === 36) f[F_DOLLAR] = f[F_DOLLAR]! + 1;
    else if (c === 44) f[F_COMMAS] = f[F_COMMAS]! + 1;
    if (!isSpace(c) && c !== 39 && c !== 8217) prevWord = 0;
    i++;
  }
  if (sentenceTokens > 0) {
    sentences++;
    lastTokens = sentenceTokens;
    lastAsk = sentenceAsk;
    lastWhat = sentenceWhat;
    lastHowMany = sentenceHowMany;
    lastHowMuch = sentenceHowMuch;
  }
  const quantities = numbers + f[F_NUMBER_WORDS]! + f[F_MULTIPLIERS]!;
  const asks = text.charCodeAt(end - 1) === 63 || lastAsk === 1;
  if (quantities < 2 || !asks) return false;

  const l1 = Math.log1p;
  f[F_CHARS] = l1(end - start);
  f[F_TOKENS] = l1(tokens);
  f[F_SENTENCES] = l1(sentences);
  f[F_NUMBERS] = l1(numbers);
  f[F_DISTINCT] = l1(distinct);
  f[F_QUANTITIES] = l1(quantities);
  f[F_MAX_MAG] = maxMag;
  f[F_MEAN_MAG] = numbers > 0 ? magSum / numbers : 0;
  f[F_LAST] = l1(lastTokens);
  for (let k = 0; k < COUNTED.length; k++) f[COUNTED[k]!] = l1(f[COUNTED[k]!]!);
  for (let k = 0; k < CUES.length; k++) f[F_CUES + k] = l1(f[F_CUES + k]!);
  f[F_ASK_WHAT] = lastWhat;
  f[F_HOW_MANY] = lastHowMany;
  f[F_HOW_MUCH] = lastHowMuch;
  return true;
}

/** A logistic regression over WORD_PROBLEM_FEATURES (raw feature values, standardisation folded in). */
export interface WordProblemHead {
  readonly weights: Float64Array;
  readonly bias: number;
  /** Mean head output on the training word problems, subtracted so that the head only reorders them. */
  readonly center: number;
  /** Weight of the centred head in the raw output (the open model's weight is 1). */
  readonly weight: number;
}

/** The head as stored in a weights asset (`wordProblem`; learned-v3 to v5 carry the same one). */
export interface WordProblemHeadAsset {
  features: string[];
  weights: number[];
  bias: number;
  center: number;
  weight: number;
}

/** The centred, weighted head output on one feature vector: what is added to the linear model's raw output. */
export function wordProblemOffset(head: WordProblemHead, features: ArrayLike<number>): number {
  let z = head.bias;
  for (let i = 0; i < WORD_PROBLEM_SIZE; i++) z += head.weights[i]! * features[i]!;
  return head.weight * (z - head.center);
}

/** Checks a stored head against this code's feature list and decodes it. */
export function wordProblemHeadFromAsset(stored: WordProblemHeadAsset): WordProblemHead {
  if (stored.weights.length !== WORD_PROBLEM_SIZE || stored.features.join() !== WORD_PROBLEM_FEATURES.join()) {
    throw new Error('router asset: word-problem head built for other features');
  }
  return {
    weights: Float64Array.from(stored.weights),
    bias: stored.bias,
    center: stored.center,
    weight: stored.weight,
  };
}
