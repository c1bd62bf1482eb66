/**
 * What the catalog says about a model: its price, limits, capabilities and rank. Billing owns these shapes
 * (prices and cost are billing's concern); providers, the router and the pipeline read them. This file
 * imports nothing, so every folder may depend on it without a cycle (one pure helper lives here too).
 */

/** A model as the catalog knows it (built by src/catalog/catalog.ts). */
export interface CatalogModel {
  /** Catalog id, `provider/upstream-name`, e.g. `openai/gpt-4o-mini`. */
  id: string;
  /** Bare model name without the provider prefix, e.g. `gpt-4o-mini`; several providers may share it. */
  name: string;
  provider: string;
  /** The model name sent upstream (Azure: the deployment name; Bedrock: the model id or inference profile). */
  upstreamName: string;
  /** USD per million tokens. */
  price: ModelPrice;
  contextWindow: number;
  maxOutputTokens: number;
  capabilities: ModelCapabilities;
  /** Higher is better; comparable across the catalog (roughly an arena-style score, 0..100). */
  qualityRank: number;
  /** Tiers this model may serve; empty means the preset rules decide. */
  tiers: Array<'utility' | 'fast' | 'deep'>;
  /**
   * What the model does. Absent means `chat`. An `embedding` model serves only `POST /v1/embeddings` (priced per
   * input token) and is never a chat candidate; a chat model is never an embeddings candidate.
   */
  mode?: ModelMode;
  /**
   * Per-unit prices of a media model (image, speech, transcription, video), USD; token-metered media models
   * (gpt-image-1, gpt-4o-transcribe) use `price` for their text tokens and these for image or audio tokens.
   */
  mediaPrice?: MediaPrice;
  /**
   * Discovered on the provider's model list with no quality rank known (model discovery, docs/routing.md):
   * routable by name, never placed in a tier until the operator ranks it.
   */
  unranked?: true;
}

/**
 * What a model does. Media modes (`image`, `speech`, `transcription`, `video`) run only as asynchronous
 * executions (`POST /v1/executions`) and are never chat or embeddings candidates.
 */
export type ModelMode = 'chat' | 'embedding' | MediaMode;
export type MediaMode = 'image' | 'speech' | 'transcription' | 'video';
export const MEDIA_MODES: readonly MediaMode[] = ['image', 'speech', 'transcription', 'video'];

/** Whether a model serves embeddings (and so never chat). */
export function isEmbeddingModel(model: { mode?: ModelMode | undefined }): boolean {
  return model.mode === 'embedding';
}

/** Whether a model serves chat (and so a tier, a preset, the chat endpoints). */
export function isChatModel(model: { mode?: ModelMode | undefined }): boolean {
  return model.mode === undefined || model.mode === 'chat';
}

/** The media mode of a model, or undefined for chat and embedding models. */
export function mediaModeOf(model: { mode?: ModelMode | undefined }): MediaMode | undefined {
  const mode = model.mode;
  return mode === 'image' || mode === 'speech' || mode === 'transcription' || mode === 'video' ? mode : undefined;
}

/**
 * A per-unit rate in USD: one figure, or one per variant keyed `size/quality`, `size`, `quality` or `*` (the
 * first key that matches the request wins; see billing/media-cost.ts).
 */
export type MediaRate = number | Readonly<Record<string, number>>;

/** Per-unit prices of a media model, USD. Absent units cost nothing. */
export interface MediaPrice {
  /** Per output image, by size and quality. */
  readonly perImage?: MediaRate;
  /** Per second: of input audio (transcription), of output video, of provider run time (Replicate). */
  readonly perSecond?: MediaRate;
  /** Per million characters of input text (speech). */
  readonly perMillionCharacters?: number;
  /** Per million input image tokens (image edits of token-metered models). */
  readonly inputImageTokens?: number;
  /** Per million input audio tokens (token-metered transcription). */
  readonly inputAudioTokens?: number;
  /** Per million output image tokens (when the library prices them apart from text output). */
  readonly outputImageTokens?: number;
}

export interface ModelPrice {
  input: number;
  cachedInput: number;
  cacheWrite: number;
  output: number;
  /**
   * Long-context pricing: when the prompt (inputTokens) exceeds `aboveInputTokens`, every token of the
   * request is charged at that tier's rates (Anthropic's and Gemini's >200k rule). Ascending.
   */
  tiers?: Array<{ aboveInputTokens: number; input: number; cachedInput: number; cacheWrite: number; output: number }>;
}

export interface ModelCapabilities {
  tools: boolean;
  vision: boolean;
  jsonSchema: boolean;
  streaming: boolean;
  reasoning: boolean;
}

/**
 * A model a provider kind serves before any configuration (its descriptor's `models`): what it can do and how
 * good it is. Prices come from the price library (prices.ts) so they follow the market; `price` is only for
 * models the library cannot know (the demo provider's), USD per million tokens, cache rates as input.
 * `qualityRank` (0..100) is a coarse, arena-style ordering used by the presets; operators can override it.
 */
export interface KnownModel {
  readonly name: string;
  readonly contextWindow: number;
  readonly maxOutputTokens: number;
  readonly capabilities: ModelCapabilities;
  readonly qualityRank: number;
  readonly price?: { readonly input: number; readonly output: number };
  /** Absent means `chat` (CatalogModel.mode). */
  readonly mode?: ModelMode;
  /** The name sent upstream when it differs (Replicate's `owner/name`; `deepseek-v3` → `deepseek-chat`). */
  readonly upstreamName?: string;
  /** A media model's per-unit prices the price library does not have (CatalogModel.mediaPrice). */
  readonly mediaPrice?: MediaPrice;
}
