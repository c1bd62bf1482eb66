import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { Preset } from '../../../src/core/tiers.ts';
import type { RouterAsset } from '../../../src/router/auto/asset.ts';
import { NEVER_DEEP, type PresetThresholds, type TierShares } from '../../../src/router/auto/thresholds.ts';
import {
  WORD_PROBLEM_FEATURES,
  type WordProblemHead,
  type WordProblemHeadAsset,
} from '../../../src/router/auto/word-problem.ts';

/**
 * What the trainers write into a weights asset, the inverse of what src/router/auto/ reads: hashed weights as
 * int16 with one scale, head weights as int8 with a scale per class, the word-problem head's fields, the
 * default thresholds, and the files of an asset whose subject head goes beside its JSON.
 */

export function encodeSparse(weights: Float32Array): RouterAsset['sparse'] {
  let max = 0;
  for (let i = 0; i < weights.length; i++) max = Math.max(max, Math.abs(weights[i]!));
  const scale = max > 0 ? max / 32767 : 1;
  const bytes = Buffer.alloc(weights.length * 2);
  for (let i = 0; i < weights.length; i++) bytes.writeInt16LE(Math.round(weights[i]! / scale), i * 2);
  return { encoding: 'int16le-base64', scale, data: bytes.toString('base64') };
}

const round9 = (x: number) => Number(x.toPrecision(9));

/** Head weights laid out [bucket * classes + c], as int8 with a scale per category. */
export function encodeHead(weights: Float32Array, classes: number): { scales: number[]; data: string } {
  const buckets = weights.length / classes;
  const scales: number[] = [];
  for (let c = 0; c < classes; c++) {
    let max = 0;
    for (let b = 0; b < buckets; b++) max = Math.max(max, Math.abs(weights[b * classes + c]!));
    scales.push(max > 0 ? round9(max / 127) : 1);
  }
  const bytes = Buffer.alloc(weights.length);
  for (let i = 0; i < weights.length; i++) bytes.writeInt8(Math.round(weights[i]! / scales[i % classes]!), i);
  return { scales, data: bytes.toString('base64') };
}

/** The word-problem head as an asset stores it. */
export function wordProblemHeadToAsset(head: WordProblemHead): WordProblemHeadAsset {
  return {
    features: [...WORD_PROBLEM_FEATURES],
    weights: Array.from(head.weights),
    bias: head.bias,
    center: head.center,
    weight: head.weight,
  };
}

/** Default thresholds of each preset, from their shares of the reference prompts. */
export function thresholdsFromShares(shares: Readonly<Record<Preset, TierShares>>): PresetThresholds {
  const out = {} as PresetThresholds;
  for (const preset of Object.keys(shares) as Preset[]) {
    const s = shares[preset];
    out[preset] = { utility: s.utilityShare, deep: s.deepShare <= 0 ? NEVER_DEEP : 1 - s.deepShare };
  }
  return out;
}

/**
 * The asset as written to disk next to `jsonPath`: a subject head's inline weights go to their own binary
 * file (`<json name>-head.bin`), which `readRouterAsset` reads back. Returns the JSON text and that file.
 */
export function assetFiles(
  asset: RouterAsset,
  jsonPath: string,
): { json: string; head?: { path: string; bytes: Buffer } } {
  const head = asset.subjectHead;
  if (head?.encoding !== 'int8-base64') return { json: `${JSON.stringify(asset)}\n` };
  const bytes = Buffer.from(head.data, 'base64');
  const path = jsonPath.replace(/\.json$/, '') + '-head.bin';
  const { data: _inline, encoding: _encoding, ...fields } = head;
  const stored: RouterAsset = {
    ...asset,
    subjectHead: {
      ...fields,
      encoding: 'int8-file',
      file: basename(path),
      sha256: createHash('sha256').update(bytes).digest('hex'),
    },
  };
  return { json: `${JSON.stringify(stored)}\n`, head: { path, bytes } };
}
