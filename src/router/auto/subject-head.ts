/**
 * learned-v5's subject head: on multiple-choice prompts, a softmax regression from the quiz's first words to
 * its MMLU subject, whose probabilities average the subjects' mean gains (the way the retired learned-v2's
 * head did, research/routing/model-v2.ts), added to the linear model's raw output with a fixed weight.
 *
 * What differs from v2's head, and why: its inputs are binary (each of the first `words` distinct head
 * buckets of the quiz's words weighs 1/sqrt(their number)) and come from the word hashes learned-v1's own
 * scan already computes (features.ts), so no tf-idf text model, merge table or second scan is needed. In the
 * seventh round's development study v1 + such a head at weight 3 matched v3's MMLU figure (0.6836 vs 0.6847)
 * at a fraction of v3's quiz-path cost (research/routing/log.md, eighth round).
 *
 * Equal input values make the head's first layer a sum of int8 rows: z[c] = bias[c] + scale[c] x
 * (sum over buckets of w[b][c]) / sqrt(m). The sum is exact in integers; the trainer's float form (mixOf
 * with value 1/sqrt(m) per entry) differs only by rounding (tested to 1e-12). The router adds three classes
 * at a time: each bucket's row is stored as doubles that hold three weights (offset to 0..255) in lanes of
 * 17 bits, and adding doubles adds the lanes without carries as long as a lane's sum stays below 2^17
 * (up to 514 buckets), exactly (all values stay below 2^53). A third of the additions, same integers
 * (tested against the plain sum).
 */

/** A subject head as the router holds it. */
export interface SubjectHead {
  /** log2 of the head's bucket table: a word's bucket is its hash's top `headBits` bits. */
  readonly headBits: number;
  /** Distinct buckets read: the first `words` distinct word buckets of the quiz. */
  readonly words: number;
  readonly classes: number;
  /**
   * The int8 weights [bucket * classes + c] (their value is weight x scales[c]) packed three classes to a
   * double: packed[bucket * groups + g] = sum over j < 3 of (w[bucket][3g + j] + 128) x 2^(17 j).
   */
  readonly packed: Float64Array;
  /** Doubles per bucket: ceil(classes / 3). */
  readonly groups: number;
  readonly scales: Float64Array;
  readonly bias: Float64Array;
  /**
   * Each subject's shrunk mean gain minus MMLU's, as logit((1 + gain) / 2) offsets
   * (research/routing/offline/train-v2.ts classGains).
   */
  readonly gains: Float64Array;
  /** Weight of the head's mix in the raw output. */
  readonly weight: number;
}

/**
 * The head as stored in a weights asset (asset.ts). In memory (the trainer's output) its int8 weights are
 * inline as base64 (research/routing/offline/asset-writer.ts encodeHead); a shipped asset keeps them in a
 * binary file beside its JSON (`int8-file`), read by `readRouterAsset` into `bytes`: parsing 0.6 MB of base64
 * out of the JSON grew the gateway's heap by about 2 MB that V8 kept (docs/benchmarks.md, eighth session).
 */
export type SubjectHeadAsset = SubjectHeadAssetFields &
  (
    | { encoding: 'int8-base64'; data: string }
    | {
        encoding: 'int8-file';
        /** File name, relative to the JSON asset. */
        file: string;
        sha256: string;
        /** The file's bytes, filled in by readRouterAsset; never serialised. */
        bytes?: Uint8Array;
      }
  );

interface SubjectHeadAssetFields {
  headBits: number;
  words: number;
  /** Class labels, for diagnostics: "mmlu/anatomy", ... */
  classes: string[];
  scales: number[];
  bias: number[];
  gains: number[];
  weight: number;
}

/** Reusable buffers of one scorer: allocation-free per prompt. */
export interface SubjectHeadScratch {
  /** Generation stamp per bucket: a bucket is taken once per prompt. */
  readonly stamp: Uint32Array;
  generation: number;
  readonly buckets: Int32Array;
  /** Lane sums per group, then the integer sums per class. */
  readonly lanes: Float64Array;
  readonly sums: Float64Array;
}

const LANE = 2 ** 17;
const LANE2 = 2 ** 34;
/** int8 weights are stored as w + 128, in 0..255, so that lanes never hold a negative value. */
const OFFSET = 128;
/** Most buckets whose lane sums stay below 2^17: 514 x 255 < 2^17. */
export const MAX_HEAD_WORDS = Math.floor((LANE - 1) / 255);

/** The int8 weights [bucket * classes + c] packed three classes to a double (see SubjectHead.packed). */
export function packHeadWeights(weights: Int8Array, classes: number): Float64Array {
  const groups = Math.ceil(classes / 3);
  const buckets = weights.length / classes;
  const packed = new Float64Array(buckets * groups);
  for (let b = 0; b < buckets; b++) {
    for (let c = 0; c < classes; c++) {
      const lane = c % 3;
      const at = b * groups + (c - lane) / 3;
      packed[at] = packed[at]! + (weights[b * classes + c]! + OFFSET) * (lane === 0 ? 1 : lane === 1 ? LANE : LANE2);
    }
  }
  return packed;
}

export function createSubjectHeadScratch(
  head: Pick<SubjectHead, 'headBits' | 'words' | 'classes'>,
): SubjectHeadScratch {
  return {
    stamp: new Uint32Array(1 << head.headBits),
    generation: 0,
    buckets: new Int32Array(head.words),
    lanes: new Float64Array(Math.ceil(head.classes / 3)),
    sums: new Float64Array(head.classes),
  };
}

/**
 * The head's inputs: the first `words` distinct buckets (top `headBits` bits) of `hashes[0, count)`, in
 * order, written to `scratch.buckets`; returns how many. The trainer gathers its rows with this function.
 */
export function subjectHeadInputs(
  head: Pick<SubjectHead, 'headBits' | 'words'>,
  hashes: ArrayLike<number>,
  count: number,
  scratch: SubjectHeadScratch,
): number {
  const shift = 32 - head.headBits;
  const limit = head.words;
  const stamp = scratch.stamp;
  const buckets = scratch.buckets;
  let generation = scratch.generation + 1;
  if (generation > 0xffffffff) {
    stamp.fill(0);
    generation = 1;
  }
  scratch.generation = generation;
  let m = 0;
  for (let t = 0; t < count && m < limit; t++) {
    const bucket = hashes[t]! >>> shift;
    if (stamp[bucket] === generation) continue;
    stamp[bucket] = generation;
    buckets[m++] = bucket;
  }
  return m;
}

/** weight x (probability-weighted subject gain) of the quiz whose inputs are `scratch.buckets[0, m)`. */
export function subjectHeadOffset(head: SubjectHead, scratch: SubjectHeadScratch, m: number): number {
  if (m === 0) return 0;
  const C = head.classes;
  const G = head.groups;
  const packed = head.packed;
  const lanes = scratch.lanes;
  const sums = scratch.sums;
  const buckets = scratch.buckets;
  lanes.fill(0);
  for (let k = 0; k < m; k++) {
    const base = buckets[k]! * G;
    for (let g = 0; g < G; g++) lanes[g] = lanes[g]! + packed[base + g]!;
  }
  // Unpack: divisions by powers of two and Math.floor are exact here; each lane loses m x OFFSET.
  const offset = m * OFFSET;
  for (let g = 0, c = 0; g < G; g++, c += 3) {
    let x = lanes[g]!;
    const high = Math.floor(x / LANE2);
    x -= high * LANE2;
    const mid = Math.floor(x / LANE);
    sums[c] = x - mid * LANE - offset;
    if (c + 1 < C) sums[c + 1] = mid - offset;
    if (c + 2 < C) sums[c + 2] = high - offset;
  }
  const v = 1 / Math.sqrt(m);
  const bias = head.bias;
  const scales = head.scales;
  let max = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < C; c++) {
    const z = bias[c]! + scales[c]! * (sums[c]! * v);
    if (z > max) max = z;
  }
  const gains = head.gains;
  let sum = 0;
  let mix = 0;
  for (let c = 0; c < C; c++) {
    const e = Math.exp(bias[c]! + scales[c]! * (sums[c]! * v) - max);
    sum += e;
    mix += e * gains[c]!;
  }
  return head.weight * (mix / sum);
}

/** The stored int8 weights [bucket * classes + c], checked against the head's table size. */
function storedWeights(stored: SubjectHeadAsset): Int8Array {
  let bytes: Uint8Array;
  if (stored.encoding === 'int8-base64') bytes = Buffer.from(stored.data, 'base64');
  else if (stored.encoding === 'int8-file') {
    if (!stored.bytes) throw new Error(`subject head: weights file ${stored.file} not read (use readRouterAsset)`);
    bytes = stored.bytes;
  } else throw new Error(`subject head: unknown encoding ${(stored as { encoding: string }).encoding}`);
  if (bytes.length !== (1 << stored.headBits) * stored.classes.length)
    throw new Error(
      `head weights: ${bytes.length} bytes${stored.encoding === 'int8-file' ? ` in ${stored.file}` : ''}`,
    );
  return new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

export function subjectHeadFromAsset(stored: SubjectHeadAsset): SubjectHead {
  const classes = stored.classes.length;
  if (stored.scales.length !== classes || stored.bias.length !== classes || stored.gains.length !== classes)
    throw new Error('subject head: per-class arrays do not match its classes');
  if (!(Number.isInteger(stored.words) && stored.words > 0 && stored.words <= MAX_HEAD_WORDS))
    throw new Error(`subject head: words must be an integer in [1, ${MAX_HEAD_WORDS}]`);
  return {
    headBits: stored.headBits,
    words: stored.words,
    classes,
    packed: packHeadWeights(storedWeights(stored), classes),
    groups: Math.ceil(classes / 3),
    scales: Float64Array.from(stored.scales),
    bias: Float64Array.from(stored.bias),
    gains: Float64Array.from(stored.gains),
    weight: stored.weight,
  };
}
