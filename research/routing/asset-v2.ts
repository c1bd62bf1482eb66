import { readFileSync } from 'node:fs';
import { ASSET_FORMAT, decodeSparse, oncePerUrl, type RouterAsset } from '../../src/router/auto/asset.ts';
import { checkReadChars, DENSE_SIZE } from '../../src/router/auto/features.ts';
import type { PresetThresholds, TierShares } from '../../src/router/auto/thresholds.ts';
import { type WordProblemHeadAsset, wordProblemHeadFromAsset } from '../../src/router/auto/word-problem.ts';
import { FEATURE_VERSION_V2, type FeatureSpecV2, type IdfLevels } from './features-v2.ts';
import type { RouterModelV2 } from './model-v2.ts';

/**
 * The v2 weights asset (`weights/weights-v2.json`, `-v3.json`), produced by `npm run train:router -- --version
 * v2`. Same format name as v1, told apart by `featureVersion`. The open-prompt model is stored as v1 stores its
 * weights; text-model weights as int16 (one scale), idf as one byte per bucket (the trainer uses the same
 * rounded values), the subject head as int8 with one scale per category. No timestamps: the same data and
 * options give the same bytes.
 */
export interface RouterAssetV2 {
  format: typeof ASSET_FORMAT;
  name: string;
  featureVersion: typeof FEATURE_VERSION_V2;
  /** Characters read of a long prompt (features.ts READ_CHARS); absent in assets trained on the 2,048 window. */
  readChars?: number;
  /** The model for open prompts (v1's features and encoding). */
  open: { hashBits: number; bias: number; dense: number[]; sparse: RouterAsset['sparse'] };
  features: FeatureSpecV2;
  bias: number;
  dense: number[];
  sparse: RouterAsset['sparse'];
  idf: { encoding: 'uint8-base64'; max: number; levels: number; data: string };
  head: {
    /** Category labels, for diagnostics: "mmlu/anatomy", "gsm8k/math", ... */
    classes: string[];
    encoding: 'int8-base64';
    /** One scale per category. */
    scales: number[];
    data: string;
    bias: number[];
    gains: number[];
  };
  mixWeight: number;
  /** learned-v3 only: the word-problem head (model-v2.ts, word-problem.ts). */
  wordProblem?: WordProblemHeadAsset;
  calibration: { raw: number[]; score: number[] };
  presetShares: Record<string, TierShares>;
  thresholds: PresetThresholds;
  training: Record<string, unknown>;
}

/** The head's int8 weights as stored ([bucket * classes + c]); multiply by `scales[c]` for their value. */
export function decodeHead(head: RouterAssetV2['head'], headBits: number): Int8Array {
  if (head.encoding !== 'int8-base64') throw new Error(`unknown head encoding ${head.encoding}`);
  const classes = head.classes.length;
  const bytes = Buffer.from(head.data, 'base64');
  if (bytes.length !== (1 << headBits) * classes) throw new Error(`head weights: ${bytes.length} bytes`);
  return new Int8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

export function encodeIdf(levels: Uint8Array, max: number, steps: number): RouterAssetV2['idf'] {
  return { encoding: 'uint8-base64', max, levels: steps, data: Buffer.from(levels).toString('base64') };
}

/** Levels per bucket, and the float32 value of each level: what the trainer weighed with (matrix-v2.ts). */
export function decodeIdf(idf: RouterAssetV2['idf'], hashBits: number): IdfLevels {
  if (idf.encoding !== 'uint8-base64') throw new Error(`unknown idf encoding ${idf.encoding}`);
  const bytes = Buffer.from(idf.data, 'base64');
  if (bytes.length !== 1 << hashBits) throw new Error(`idf: expected ${1 << hashBits} bytes, got ${bytes.length}`);
  const value = new Float64Array(256);
  for (let level = 0; level < 256; level++) value[level] = Math.fround((level / idf.levels) * idf.max);
  return { levels: new Uint8Array(bytes), value };
}

export function isAssetV2(asset: { featureVersion: number }): asset is RouterAssetV2 {
  return asset.featureVersion === FEATURE_VERSION_V2;
}

export function modelFromAssetV2(asset: RouterAssetV2): RouterModelV2 {
  if (asset.format !== ASSET_FORMAT) throw new Error(`not a router asset: format ${String(asset.format)}`);
  if (asset.featureVersion !== FEATURE_VERSION_V2) {
    throw new Error(`router asset built for features v${asset.featureVersion}, expected v${FEATURE_VERSION_V2}`);
  }
  checkReadChars(asset.readChars);
  if (asset.dense.length !== DENSE_SIZE || asset.open.dense.length !== DENSE_SIZE) {
    throw new Error(`router asset: ${asset.dense.length} and ${asset.open.dense.length} dense weights`);
  }
  if (asset.calibration.raw.length !== asset.calibration.score.length) throw new Error('router asset: calibration');
  const classes = asset.head.classes.length;
  if (
    asset.head.bias.length !== classes ||
    asset.head.gains.length !== classes ||
    asset.head.scales.length !== classes
  ) {
    throw new Error('router asset: head');
  }
  const spec = asset.features;
  return {
    open: {
      hashBits: asset.open.hashBits,
      bias: asset.open.bias,
      dense: Float64Array.from(asset.open.dense),
      sparse: decodeSparse(asset.open.sparse, asset.open.hashBits),
    },
    spec: { ...spec },
    idf: decodeIdf(asset.idf, spec.hashBits),
    bias: asset.bias,
    dense: Float64Array.from(asset.dense),
    sparse: decodeSparse(asset.sparse, spec.hashBits),
    head: {
      classes,
      weights: decodeHead(asset.head, spec.headBits),
      scales: Float64Array.from(asset.head.scales),
      bias: Float64Array.from(asset.head.bias),
      gains: Float64Array.from(asset.head.gains),
    },
    mixWeight: asset.mixWeight,
    ...(asset.wordProblem ? { wordProblem: wordProblemHeadFromAsset(asset.wordProblem) } : {}),
    knotsRaw: Float64Array.from(asset.calibration.raw),
    knotsScore: Float64Array.from(asset.calibration.score),
  };
}

export function readRouterAssetV2(path: string | URL): RouterAssetV2 {
  return JSON.parse(readFileSync(path, 'utf8')) as RouterAssetV2;
}

const loaded = oncePerUrl((url) => {
  const asset = readRouterAssetV2(url);
  return { asset, model: modelFromAssetV2(asset) };
});

/** A v2-format asset in a file (learned-v2 or learned-v3) and its model, read and decoded once per process. */
export function loadRouterModelV2(url: URL): { asset: RouterAssetV2; model: RouterModelV2 } {
  return loaded(url);
}
