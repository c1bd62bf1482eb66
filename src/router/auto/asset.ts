import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { LearnedVersion } from '../../config/schema.ts';
import { checkReadChars, DENSE_SIZE, FEATURE_VERSION } from './features.ts';
import type { LinearRouterModel } from './model.ts';
import { type SubjectHeadAsset, subjectHeadFromAsset } from './subject-head.ts';
import type { PresetThresholds, TierShares } from './thresholds.ts';
import { type WordProblemHeadAsset, wordProblemHeadFromAsset } from './word-problem.ts';

/**
 * The versioned weights asset of the learned router (`weights-v6.json`; research/routing/weights/ keeps the
 * retired v1, v4 and v5 in the same format): everything the router needs at run time, produced by
 * `npm run train:router` (research/routing/offline/asset-writer.ts writes it). Hashed weights are stored as
 * little-endian int16 with one scale (base64), which keeps the file small and its loss far below the weights'
 * own noise. No timestamps: the same data and options give the same bytes.
 */

export const ASSET_FORMAT = 'modro-tier-router';

export interface RouterAsset {
  format: typeof ASSET_FORMAT;
  /** Chooser name reported in headers and usage records, e.g. `learned-v5`. */
  name: string;
  featureVersion: number;
  /** Characters read of a long prompt (features.ts READ_CHARS); absent in assets trained on the 2,048 window. */
  readChars?: number;
  hashBits: number;
  bias: number;
  dense: number[];
  sparse: { encoding: 'int16le-base64'; scale: number; data: string };
  /**
   * The word-problem head, added to the raw output of prompts that read as maths word problems
   * (word-problem.ts). Absent in learned-v1.
   */
  wordProblem?: WordProblemHeadAsset;
  /** The subject head on multiple-choice prompts (subject-head.ts). Absent before learned-v5. */
  subjectHead?: SubjectHeadAsset;
  /** Monotone map from raw output to score: the weighted empirical CDF of the reference prompts. */
  calibration: { raw: number[]; score: number[] };
  presetShares: Record<string, TierShares>;
  thresholds: PresetThresholds;
  training: Record<string, unknown>;
}

/**
 * The weights asset of each shipped learned router, by `routing.learnedVersion` (config/schema.ts
 * LEARNED_VERSIONS). Only learned-v6 ships: learned-v1's hashed features and linear model, trained on
 * difficulty-labelled prompts, without heads (docs/routing.md). The retired versions' weights, v5's heads
 * included, are in research/routing/weights/; the head code stays here because the asset format has them.
 */
export const SHIPPED_ASSETS: Readonly<Record<LearnedVersion, URL>> = Object.freeze({
  v6: new URL('./weights-v6.json', import.meta.url),
});
export type RouterVersion = LearnedVersion;

export function decodeSparse(sparse: RouterAsset['sparse'], hashBits: number): Float32Array {
  if (sparse.encoding !== 'int16le-base64') throw new Error(`unknown sparse encoding ${sparse.encoding}`);
  const bytes = Buffer.from(sparse.data, 'base64');
  const size = 1 << hashBits;
  if (bytes.length !== size * 2) throw new Error(`sparse weights: expected ${size * 2} bytes, got ${bytes.length}`);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = bytes.readInt16LE(i * 2) * sparse.scale;
  return out;
}

/** Checks an asset's shape and turns it into the in-memory model. */
export function modelFromAsset(asset: RouterAsset): LinearRouterModel {
  if (asset.format !== ASSET_FORMAT) throw new Error(`not a router asset: format ${String(asset.format)}`);
  if (asset.featureVersion !== FEATURE_VERSION) {
    throw new Error(`router asset built for features v${asset.featureVersion}, this code extracts v${FEATURE_VERSION}`);
  }
  checkReadChars(asset.readChars);
  if (asset.dense.length !== DENSE_SIZE) throw new Error(`router asset: ${asset.dense.length} dense weights`);
  if (asset.calibration.raw.length !== asset.calibration.score.length) throw new Error('router asset: calibration');
  return {
    hashBits: asset.hashBits,
    bias: asset.bias,
    dense: Float64Array.from(asset.dense),
    sparse: decodeSparse(asset.sparse, asset.hashBits),
    ...(asset.wordProblem ? { wordProblem: wordProblemHeadFromAsset(asset.wordProblem) } : {}),
    ...(asset.subjectHead ? { subjectHead: subjectHeadFromAsset(asset.subjectHead) } : {}),
    knotsRaw: Float64Array.from(asset.calibration.raw),
    knotsScore: Float64Array.from(asset.calibration.score),
  };
}

/**
 * Reads a weights asset, and the binary file of its subject head when it has one (learned-v5 keeps its head's
 * int8 weights beside the JSON; subject-head.ts), checked against the sha256 the asset records.
 */
export function readRouterAsset(path: string | URL): RouterAsset {
  const asset = JSON.parse(readFileSync(path, 'utf8')) as RouterAsset;
  const head = asset.subjectHead;
  if (head?.encoding === 'int8-file') {
    const file = new URL(head.file, path instanceof URL ? path : pathToFileURL(path));
    const bytes = readFileSync(file);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== head.sha256)
      throw new Error(`router asset: ${head.file} has sha256 ${sha256}, the asset says ${head.sha256}`);
    asset.subjectHead = { ...head, bytes };
  }
  return asset;
}

/** `load` memoised per URL: shipped assets are read and decoded once per process. */
export function oncePerUrl<T>(load: (url: URL) => T): (url: URL) => T {
  const cache = new Map<string, T>();
  return (url) => {
    let value = cache.get(url.href);
    if (value === undefined) {
      value = load(url);
      cache.set(url.href, value);
    }
    return value;
  };
}

/**
 * What is kept of a shipped asset once its model is decoded: the encoded weights (175 KB of base64 text in
 * learned-v6) are left to the collector instead of staying in memory for the life of the process.
 */
export type AssetSummary = Pick<RouterAsset, 'name' | 'thresholds' | 'presetShares'>;

const shipped = oncePerUrl((url) => {
  const asset = readRouterAsset(url);
  const summary: AssetSummary = { name: asset.name, thresholds: asset.thresholds, presetShares: asset.presetShares };
  return { asset: summary, model: modelFromAsset(asset) };
});

/** The asset in a file (one of SHIPPED_ASSETS in the gateway) and its model, read and decoded once per process. */
export function loadRouterModel(url: URL): { asset: AssetSummary; model: LinearRouterModel } {
  return shipped(url);
}
