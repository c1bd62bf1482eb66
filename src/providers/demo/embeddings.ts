import type { EmbeddingRequest, EmbeddingResponse } from '../../core/ir.ts';
import { estimateEmbeddingUsage } from '../embedding-usage.ts';
import type { CallContext, EmbeddingsAdapter, UpstreamTarget } from '../types.ts';

/**
 * The demo provider's embedding model: deterministic feature hashing of the input's words (or token ids) into a
 * unit vector, 256 dimensions unless `dimensions` asks otherwise. Texts that share words point the same way,
 * so similarity search works in a demo; it is not a semantic model. Input tokens are counted exactly.
 */

export const DEMO_EMBEDDING_DIMENSIONS = 256;

function fnv1a(text: string): number {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0;
  return hash;
}

/** The demo vector of one input: each feature adds ±1 at its hashed position; the sum is normalized. */
export function demoEmbedding(features: readonly string[], dimensions: number): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  for (const feature of features) {
    const hash = fnv1a(feature);
    vector[hash % dimensions]! += hash & 0x80000000 ? -1 : 1;
  }
  const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
  return norm === 0 ? vector : vector.map((v) => Math.fround(v / norm));
}

function featuresOf(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

async function embed(request: EmbeddingRequest, target: UpstreamTarget, ctx: CallContext): Promise<EmbeddingResponse> {
  const dimensions = request.dimensions ?? DEMO_EMBEDDING_DIMENSIONS;
  const inputs =
    request.input.kind === 'text'
      ? request.input.texts.map(featuresOf)
      : request.input.tokens.map((ids) => ids.map(String));
  return {
    model: target.model.upstreamName,
    vectors: inputs.map((features) => demoEmbedding(features, dimensions)),
    usage: await estimateEmbeddingUsage(request, ctx.tokens),
  };
}

export const demoEmbeddings: EmbeddingsAdapter = {
  embed,
  unsupportedReason: (request) =>
    request.dimensions !== undefined && request.dimensions > 4096
      ? 'demo-embed has at most 4096 dimensions'
      : undefined,
};
