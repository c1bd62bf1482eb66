/**
 * Cuts text into pieces that a BPE tokenizer can count one by one in linear time. A byte-pair merge costs the
 * square of the length of each word its split regex finds, and a run without spaces is one word: 250,000 "x"
 * took almost a minute. So a piece never exceeds `maxChars` (UTF-16 units), and it ends, wherever the text
 * allows, where the tokenizer's own split regex (o200k_base) always starts a new word, so that ordinary text
 * counts exactly as it would whole:
 * - before a space that follows a non-space (a word never holds a space after its first character);
 * - after a letter, before anything that cannot continue a letter run (a letter, a mark, or the `'` of a
 *   contraction such as `'s` or `'ll` could); after a digit, before a non-digit.
 * A run of digits is cut a multiple of three digits into it, which is exact too. Only a stretch of `maxChars`
 * with no such place (a run of letters, punctuation, whitespace, CJK or emoji) is cut hard, never inside a
 * surrogate pair; the count of such a stretch then differs by about one token per cut.
 */

/** Long enough that ordinary prose, code and JSON have a clean cut in every window; short enough that a run's
 * quadratic merge stays cheap (bench/token-count.ts measured the choice). */
export const MAX_PIECE_CHARS = 256;

const SPACE = 1;
const WHITESPACE = 2;
const LETTER = 3;
const MARK = 4;
const DIGIT = 5;
const APOSTROPHE = 6;
const OTHER = 7;
/** The second half of a surrogate pair: never a place to cut. */
const TRAIL = 8;

const IS_WHITESPACE = /\s/y;
const IS_LETTER = /\p{L}/uy;
const IS_MARK = /\p{M}/uy;
const IS_DIGIT = /\p{N}/uy;
/** What o200k_base takes after `'` as part of the word before it. */
const CONTRACTION = /^(?:[sdmt]|ll|ve|re)/i;

function classifyAt(text: string, at: number): number {
  const unit = text.charCodeAt(at);
  if (unit === 0x20) return SPACE;
  if (unit === 0x27) return APOSTROPHE;
  if (unit >= 0xdc00 && unit <= 0xdfff) return TRAIL;
  for (const [pattern, kind] of CLASSES) {
    pattern.lastIndex = at;
    if (pattern.test(text)) return kind;
  }
  return OTHER;
}

const CLASSES: ReadonlyArray<readonly [RegExp, number]> = [
  [IS_WHITESPACE, WHITESPACE],
  [IS_LETTER, LETTER],
  [IS_MARK, MARK],
  [IS_DIGIT, DIGIT],
];

/** ASCII, by far the most common, from a table. */
const ASCII = Uint8Array.from({ length: 128 }, (_, unit) => classifyAt(String.fromCharCode(unit), 0));

function classOf(text: string, at: number): number {
  const unit = text.charCodeAt(at);
  return unit < 128 ? ASCII[unit]! : classifyAt(text, at);
}

/** The class of the character that ends just before `at` (a whole surrogate pair counts as one character). */
function classBefore(text: string, at: number): number {
  const unit = text.charCodeAt(at - 1);
  if (unit >= 0xdc00 && unit <= 0xdfff && at >= 2) {
    const lead = text.charCodeAt(at - 2);
    if (lead >= 0xd800 && lead <= 0xdbff) return classifyAt(text, at - 2);
  }
  return classOf(text, at - 1);
}

/** Whether o200k_base's split regex always starts a new word at `at` (0 < at < text.length). */
export function isCleanCut(text: string, at: number): boolean {
  const next = classOf(text, at);
  if (next === TRAIL) return false;
  const previous = classBefore(text, at);
  if (next === SPACE) return previous !== SPACE && previous !== WHITESPACE;
  if (previous === LETTER) {
    if (next === APOSTROPHE) return !CONTRACTION.test(text.slice(at + 1, at + 3));
    return next !== LETTER && next !== MARK;
  }
  if (previous === DIGIT) return next !== DIGIT;
  return false;
}

/**
 * Where the piece starting at `start` ends: the last clean cut within `maxChars`; else, inside a run of digits
 * (which the regex takes three at a time from the run's first digit), a multiple of three digits into the run;
 * else a hard cut.
 */
function pieceEnd(text: string, start: number, maxChars: number): number {
  const limit = start + maxChars;
  if (limit >= text.length) return text.length;
  for (let at = limit; at > start; at--) if (isCleanCut(text, at)) return at;
  if (classOf(text, limit - 1) === DIGIT && classOf(text, limit) === DIGIT) {
    let run = limit - 1;
    while (run > start && classOf(text, run - 1) === DIGIT) run--;
    const aligned = run + Math.floor((limit - run) / 3) * 3;
    if (aligned > start) return aligned;
  }
  const unit = text.charCodeAt(limit);
  return unit >= 0xdc00 && unit <= 0xdfff && limit - 1 > start ? limit - 1 : limit;
}

/**
 * The pieces of `text`, in order; joined they are `text`. Linear: after a cut at the last clean place of a
 * window, the next window's search starts past the previous window, so each character is examined at most
 * about twice.
 */
export function* tokenPieces(text: string, maxChars = MAX_PIECE_CHARS): Generator<string> {
  let start = 0;
  while (start < text.length) {
    const end = pieceEnd(text, start, maxChars);
    yield text.slice(start, end);
    start = end;
  }
}
