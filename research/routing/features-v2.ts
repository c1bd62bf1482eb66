import { DENSE_SIZE, HEAD_CHARS, type PromptContext, TAIL_CHARS } from '../../src/router/auto/features.ts';
import { hashString, mix32 } from '../../src/router/auto/hash.ts';
import { createTokenScan, KIND_WORD, resetScan, type ScanStats, scanTokens, type TokenScan } from './token-scan.ts';

/**
 * Features of the v2 router (`learned-v2`). The text is read as in v1 (the first and last 512 characters,
 * see features.ts) and tokenised the same way, but the sparse vector is a tf-idf vector:
 *   - repeated tokens are merged per hash bucket; an entry weighs (1 + ln count) x idf(bucket), and the
 *     vector is scaled to unit length (v1 gave every token ±1/sqrt(n), so frequent function words weighed
 *     as much as rare subject words; tf-idf is what made the text model better in cross-validation);
 *   - each word entry also carries a bucket of the subject head's smaller table (see model-v2.ts);
 *   - multiple-choice prompts get a format-salted copy of every entry, as in v1, and optionally the tokens
 *     of option lines a second, option-salted copy.
 * The dense block is v1's (same names and order, DENSE_SIZE).
 *
 * Allocation-free per prompt: the caller owns a FeatureBufferV2 (about 2 MB of bucket tables at 2^18
 * buckets) and reuses it.
 */

export const FEATURE_VERSION_V2 = 2;

const CHOICE_SALT = hashString('multiple-choice');

export interface FeatureSpecV2 {
  /** log2 of the text model's table size. */
  hashBits: number;
  /** log2 of the subject head's table size. */
  headBits: number;
  /**
   * The head reads the first `headWords` distinct words of a prompt: enough to tell an MMLU subject, and
   * it bounds the head's cost (words x categories multiply-adds) on long prompts.
   */
  headWords: number;
  /** A format-salted copy of every entry when the prompt has two or more option lines. */
  choiceCopy: boolean;
  /** An option-salted copy of the tokens on option lines. */
  optionCopy: boolean;
}

export interface FeatureBufferV2 {
  readonly spec: FeatureSpecV2;
  /** Bucket of each entry in the text model's table. */
  index: Int32Array;
  /** Count of the entry's tokens, then its tf-idf weight once weighed. */
  value: Float64Array;
  /** Bucket of a word entry in the head's table (first `headWords` words of a multiple-choice prompt), else -1. */
  head: Int32Array;
  count: number;
  /** Two or more option lines: a multiple-choice prompt (the only kind the subject head reads). */
  choice: boolean;
  dense: Float64Array;
  scan: TokenScan;
  /**
   * Merge table: open addressing on the bucket, each cell holding generation x 2^14 + entry slot, so that
   * merging repeats costs a probe or two per token and the table is reset by bumping the generation. It
   * has 2^MERGE_BITS cells (64 KiB) whatever the model's table size, where a table indexed by bucket (1 MiB
   * at 2^18 buckets) made every token a likely cache miss. Entries come out in the same order with the same
   * counts as with that table, so no score changes.
   */
  slot: Uint32Array;
  generation: number;
}

const SLOT_BITS = 14;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
/** Generations wrap here so that generation x 2^14 stays below 2^31. */
const GENERATIONS = 1 << 17;
/** Cells of the merge table: more than the most entries a prompt can open (2 per token, see capacity). */
const MERGE_BITS = 14;
const MERGE_MASK = (1 << MERGE_BITS) - 1;

/** 1 + ln(count) for the counts a prompt can reach (tf weights without a log per entry; same values). */
const TF = new Float64Array(4096);
for (let c = 1; c < TF.length; c++) TF[c] = 1 + Math.log(c);
export function tf(count: number): number {
  return count < 4096 && Number.isInteger(count) ? TF[count]! : 1 + Math.log(count);
}

export function createFeatureBufferV2(spec: FeatureSpecV2): FeatureBufferV2 {
  const maxChars = HEAD_CHARS + TAIL_CHARS;
  const scan = createTokenScan(maxChars);
  // Every token may add its own entry and a multiple-choice copy.
  const capacity = 2 * scan.hash.length;
  if (capacity > 1 << MERGE_BITS || capacity > SLOT_MASK + 1) throw new Error('feature buffer: merge table too small');
  return {
    spec,
    index: new Int32Array(capacity),
    value: new Float64Array(capacity),
    head: new Int32Array(capacity),
    count: 0,
    choice: false,
    dense: new Float64Array(DENSE_SIZE),
    scan,
    slot: new Uint32Array(1 << MERGE_BITS),
    generation: 0,
  };
}

/** Adds one token; returns 1 when it opened a new entry, 0 when it was merged into one. */
function addToken(out: FeatureBufferV2, bucket: number, head: number): number {
  const table = out.slot;
  const generation = out.generation;
  let cell = Math.imul(bucket, 0x9e3779b1) >>> (32 - MERGE_BITS);
  for (;;) {
    const packed = table[cell]!;
    if (packed >>> SLOT_BITS !== generation) break;
    const k = packed & SLOT_MASK;
    if (out.index[k] === bucket) {
      out.value[k] = out.value[k]! + 1;
      return 0;
    }
    cell = (cell + 1) & MERGE_MASK;
  }
  const k = out.count++;
  table[cell] = generation * (SLOT_MASK + 1) + k;
  out.index[k] = bucket;
  out.value[k] = 1;
  out.head[k] = head;
  return 1;
}

/**
 * Turns the counts of entries [from, to) into unit-length tf-idf weights: the trainer's formula (it keeps
 * counts and weighs them with the idf of its training rows). The router's quiz path (model-v2.ts) performs
 * the same operations in its own fused pass; a test checks the two give equal numbers.
 */
export function weighEntries(
  index: ArrayLike<number>,
  value: Float64Array,
  from: number,
  to: number,
  idf: ArrayLike<number>,
): void {
  let norm = 0;
  for (let k = from; k < to; k++) {
    const v = tf(value[k]!) * idf[index[k]!]!;
    value[k] = v;
    norm += v * v;
  }
  if (norm > 0) {
    const scale = 1 / Math.sqrt(norm);
    for (let k = from; k < to; k++) value[k] = value[k]! * scale;
  }
}

/**
 * idf as an asset stores it: one byte per bucket and the value of each of the 256 levels. `value[level]`
 * must equal the float32 the trainer used for that level, so that the router computes the same weights.
 */
export interface IdfLevels {
  levels: Uint8Array;
  value: Float64Array;
}

const D_LOG_CHARS = 0;
const LENGTH_EDGES = [4.5, 5, 5.5, 6, 6.5, 7, 7.5, 8];
const NUMBER_EDGES = [0.5, 1.2, 1.7, 2.1, 2.5, 3];
const LINE_EDGES = [0.5, 1.2, 1.7, 2.3, 3];
const CONTINUOUS = 21;
const B_LENGTH = CONTINUOUS;
const B_NUMBERS = B_LENGTH + LENGTH_EDGES.length + 1;
const B_LINES = B_NUMBERS + NUMBER_EDGES.length + 1;

function bin(value: number, edges: readonly number[]): number {
  let i = 0;
  while (i < edges.length && value >= edges[i]!) i++;
  return i;
}

/** v1's dense block (features.ts, DENSE_NAMES), from the scan's counts. */
function fillDense(s: ScanStats, length: number, read: number, context: PromptContext, d: Float64Array): void {
  const scaleUp = length / (read || 1);
  d.fill(0);
  const logChars = Math.log1p(length);
  const numbers = s.numbers * scaleUp;
  const lines = s.lines * scaleUp;
  d[D_LOG_CHARS] = logChars;
  d[1] = Math.log1p(s.words * scaleUp);
  d[2] = s.digits / (read || 1);
  d[3] = Math.log1p(numbers);
  d[4] = Math.log1p(s.math * scaleUp);
  d[5] = Math.log1p(s.code * scaleUp);
  d[6] = Math.log1p(lines);
  d[7] = Math.log1p(s.questions * scaleUp);
  d[8] = Math.log1p(s.options * scaleUp);
  d[9] = s.words > 0 ? s.wordChars / s.words / 10 : 0;
  d[10] = s.upper / (read || 1);
  d[11] = s.nonAscii / (read || 1);
  d[12] = Math.log1p(s.longNumbers * scaleUp);
  d[13] = Math.log1p(s.sentences * scaleUp);
  d[14] = s.fence;
  d[15] = Math.log1p(context.priorTurns);
  d[16] = context.systemChars > 0 ? 1 : 0;
  d[17] = Math.log1p(context.systemChars);
  d[18] = context.toolCount > 0 ? 1 : 0;
  d[19] = context.imageCount > 0 ? 1 : 0;
  d[20] = context.jsonOutput ? 1 : 0;
  d[B_LENGTH + bin(logChars, LENGTH_EDGES)] = 1;
  d[B_NUMBERS + bin(Math.log1p(numbers), NUMBER_EDGES)] = 1;
  d[B_LINES + bin(Math.log1p(lines), LINE_EDGES)] = 1;
}

/**
 * Fills `out` with the features of `text` in its `context`. With `idf`, entries hold their tf-idf weights;
 * without, their raw counts (for the trainer, which weighs them per fold).
 */
export function extractFeaturesV2(
  text: string,
  context: PromptContext,
  out: FeatureBufferV2,
  idf?: ArrayLike<number>,
): void {
  const spec = out.spec;
  const scan = out.scan;
  resetScan(scan);
  const length = text.length;
  let read: number;
  if (length <= HEAD_CHARS + TAIL_CHARS) {
    scanTokens(text, 0, length, scan, spec.optionCopy);
    read = length;
  } else {
    scanTokens(text, 0, HEAD_CHARS, scan, spec.optionCopy);
    scanTokens(text, length - TAIL_CHARS, length, scan, spec.optionCopy);
    read = HEAD_CHARS + TAIL_CHARS;
  }

  out.count = 0;
  out.generation++;
  if (out.generation >= GENERATIONS) {
    out.slot.fill(0);
    out.generation = 1;
  }
  const mask = (1 << spec.hashBits) - 1;
  const headShift = 32 - spec.headBits;
  out.choice = scan.stats.options >= 2;
  const choice = spec.choiceCopy && out.choice;
  const hashes = scan.hash;
  const kinds = scan.kind;
  let headLeft = out.choice ? spec.headWords : 0;
  for (let t = 0; t < scan.count; t++) {
    const h = hashes[t]!;
    // The head takes the hash's top bits, the text model its low bits: two independent tables.
    if (headLeft > 0 && kinds[t] === KIND_WORD) headLeft -= addToken(out, h & mask, h >>> headShift);
    else addToken(out, h & mask, -1);
    if (choice) addToken(out, mix32(h ^ CHOICE_SALT) & mask, -1);
  }
  if (idf) weighEntries(out.index, out.value, 0, out.count, idf);
  fillDense(scan.stats, length, read, context, out.dense);
}
