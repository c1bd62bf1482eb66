import type { KnownModel, MediaMode, MediaPrice, ModelCapabilities } from '../../billing/catalog-types.ts';

/** Shorthands for the descriptors' model lists: the usual capability sets and one row per model. */

export const FULL: ModelCapabilities = {
  tools: true,
  vision: true,
  jsonSchema: true,
  streaming: true,
  reasoning: false,
};
export const REASONING: ModelCapabilities = { ...FULL, reasoning: true };
export const TEXT_TOOLS: ModelCapabilities = { ...FULL, vision: false };
export const TEXT_TOOLS_REASONING: ModelCapabilities = { ...TEXT_TOOLS, reasoning: true };
/** Text and tools, no structured output (`json_schema`). */
export const TEXT_TOOLS_NO_SCHEMA: ModelCapabilities = { ...TEXT_TOOLS, jsonSchema: false };

export function knownModel(
  name: string,
  contextWindow: number,
  maxOutputTokens: number,
  capabilities: ModelCapabilities,
  qualityRank: number,
): KnownModel {
  return { name, contextWindow, maxOutputTokens, capabilities, qualityRank };
}

/** No chat features: what an embedding model's capabilities say (it is never a chat candidate anyway). */
export const NONE: ModelCapabilities = {
  tools: false,
  vision: false,
  jsonSchema: false,
  streaming: false,
  reasoning: false,
};

/** An embedding model (`POST /v1/embeddings` only), with its input limit in tokens. */
export function embeddingModel(name: string, maxInputTokens: number, qualityRank = 50): KnownModel {
  return {
    name,
    contextWindow: maxInputTokens,
    maxOutputTokens: 0,
    capabilities: NONE,
    qualityRank,
    mode: 'embedding',
  };
}

/**
 * A media model (image, speech, transcription, video): run only as an execution (`POST /v1/executions`), never a
 * chat or embeddings candidate. `mediaPrice` is its per-unit price where the price library has none.
 */
export function mediaModel(
  name: string,
  mode: MediaMode,
  options: { mediaPrice?: MediaPrice; upstreamName?: string; qualityRank?: number } = {},
): KnownModel {
  return {
    name,
    contextWindow: 0,
    maxOutputTokens: 0,
    capabilities: NONE,
    qualityRank: options.qualityRank ?? 50,
    mode,
    ...(options.upstreamName ? { upstreamName: options.upstreamName } : {}),
    ...(options.mediaPrice ? { mediaPrice: options.mediaPrice } : {}),
  };
}
