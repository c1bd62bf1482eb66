import { HEAD_CHARS, TAIL_CHARS } from '../../src/router/auto/features.ts';

/**
 * Visible signals of what a prompt asks for, studied in the eleventh round (research/routing/log.md) as a
 * stacking layer over learned-v6 and as a hand-set prior; neither shipped. The kind of task (implement, prove, design, analyse … against greet, look up, translate, reformat),
 * code and maths, the number of requirements, constraint words and the requested output size. The learned
 * text model reads words one by one; these read the ask as a whole, so that a short "implement X" or "prove Y"
 * is not scored like a short lookup.
 *
 * Read on the same window as the features (the first HEAD_CHARS and last TAIL_CHARS characters), so the cost is
 * bounded at any prompt length. Every signal is 0 or 1, or a small count through log1p.
 */

export const ASK_SIGNAL_NAMES = [
  'log_chars',
  'hard_ask',
  'build_ask',
  'easy_ask',
  'greeting',
  'short_question',
  'code',
  'math',
  'reasoning',
  'log_requirements',
  'log_constraints',
  'long_output',
] as const;

export const ASK_SIGNALS = ASK_SIGNAL_NAMES.length;

// Verbs asking for depth: work that is non-trivial whatever the prompt's length.
const HARD_ASK =
  /\b(prove|proof|derive|derivation|counter-?example|implement(ation)?|design|architect(ure)?|optimi[sz]e|analy[sz]e|analysis|critique|evaluate|formali[sz]e|debug|refactor|trade-?offs?|rigorous(ly)?|complexity|algorithm|theorem|lemma)\b/i;
// Asks to produce a sizable artefact.
const BUILD_ASK =
  /\b(write|create|build|develop|construct|generate|draft|compose|plan)\b[^.?!\n]{0,40}\b(program|function|class|script|app|application|service|system|server|library|parser|compiler|engine|essay|paper|report|proposal|strategy|plan|curriculum|story|chapter|simulation|model|game|api)\b/i;
// Small transforms and lookups.
const EASY_ASK =
  /\b(translate|translation|spell|synonym|antonym|capital of|stand for|convert|rephrase|reword|paraphrase|proofread|fix (the )?(grammar|typos?|spelling)|capitali[sz]e|alphabeti[sz]e|sort (these|this|the following)|how do you say|what time|what day|define|definition of|rhymes? with|remind me)\b/i;
const GREETING = /^\s*(hi|hello|hey|thanks|thank you|good (morning|evening|night)|how are you)\b/i;
const CODE = /```|\b(function|def|class|import|return|const|SELECT|#include|public static|async|await)\b|=>|\{\s*$/m;
const MATH =
  /[∑∫√≤≥≠πθ]|\\(frac|sum|int|mathbb)|\b(integral|derivative|equation|probability|matrix|eigen\w*|polynomial|converge\w*|modulo|prime|inequality|limit)\b/i;
const REASONING =
  /\b(step by step|explain why|why does|why do|compare|contrast|pros and cons|in depth|consider|justify|reason about|what if|implications?)\b/i;
const CONSTRAINT =
  /\b(must|should|at least|at most|no more than|exactly|without|ensure|only|each|every|do not|don't|avoid|include|including|requirements?|constraints?)\b/gi;
const LONG_OUTPUT =
  /\b(\d{3,5}[- ]words?|detailed|comprehensive|thorough(ly)?|in detail|full|complete|extensive|step-by-step|essay|report|tutorial|guide)\b/i;

function countMatches(re: RegExp, text: string): number {
  re.lastIndex = 0;
  let n = 0;
  while (re.exec(text) !== null) n++;
  return n;
}

/** Requirement lines: bullets and numbered items ("- ", "* ", "1. ", "2) "). */
function requirementLines(text: string): number {
  let n = 0;
  let atLineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      atLineStart = true;
      continue;
    }
    if (atLineStart) {
      if (c === 32 || c === 9) continue;
      const next = text.charCodeAt(i + 1);
      if ((c === 45 || c === 42 || c === 8226) && next === 32) n++;
      else if (c >= 48 && c <= 57) {
        let j = i;
        while (j < text.length && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
        const d = text.charCodeAt(j);
        if ((d === 46 || d === 41) && text.charCodeAt(j + 1) === 32) n++;
      }
      atLineStart = false;
    }
  }
  return n;
}

/** The part of a prompt read: all of it up to HEAD_CHARS + TAIL_CHARS, else its head and tail. */
function window(text: string): string {
  return text.length <= HEAD_CHARS + TAIL_CHARS
    ? text
    : `${text.slice(0, HEAD_CHARS)}\n${text.slice(text.length - TAIL_CHARS)}`;
}

/** Fills `out` (length ASK_SIGNALS) with the signals of `text`, in ASK_SIGNAL_NAMES order. */
export function askSignals(text: string, out: Float64Array): Float64Array {
  const read = window(text);
  const scale = text.length > read.length ? text.length / read.length : 1;
  out[0] = Math.log1p(text.length);
  out[1] = HARD_ASK.test(read) ? 1 : 0;
  out[2] = BUILD_ASK.test(read) ? 1 : 0;
  out[3] = EASY_ASK.test(read) ? 1 : 0;
  out[4] = GREETING.test(read) ? 1 : 0;
  out[5] = text.length < 80 && read.trimEnd().endsWith('?') ? 1 : 0;
  out[6] = CODE.test(read) ? 1 : 0;
  out[7] = MATH.test(read) ? 1 : 0;
  out[8] = REASONING.test(read) ? 1 : 0;
  out[9] = Math.log1p(requirementLines(read) * scale);
  out[10] = Math.log1p(countMatches(CONSTRAINT, read) * scale);
  out[11] = LONG_OUTPUT.test(read) ? 1 : 0;
  return out;
}
