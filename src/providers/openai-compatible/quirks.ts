/**
 * How a member of the OpenAI-compatible family differs from OpenAI, as data (the Portkey pattern): each kind's
 * descriptor (src/providers/kinds/) holds `openAIQuirks({...})` with its differences, and the one adapter
 * applies them. Adding a compatible provider means a descriptor, not code.
 *
 * Two kinds of difference:
 * - `dropped`: sampling hints the provider rejects with a 400 although ignoring them is harmless; they are
 *   removed from the body and the answer is still what the caller asked for.
 * - `unsupported`: features whose absence would change the answer (logprobs, n > 1, logit_bias). A request
 *   that uses one is never routed to that provider; if no candidate remains it fails with invalid_request.
 */
export interface OpenAIQuirks {
  /** How the key travels (`Authorization: Bearer`, or Azure's `api-key`); an empty key (local servers) sends none. */
  auth: 'bearer' | 'api-key';
  /** `azure-deployment`: /openai/deployments/{deployment}/chat/completions?api-version=... */
  url: 'standard' | 'azure-deployment';
  dropped: readonly string[];
  unsupported: readonly UnsupportedFeature[];
  /** Body fields sent under another name: `{ seed: 'random_seed' }`. */
  renamed: Readonly<Record<string, string>>;
  /** Accepts `stream_options.include_usage` (otherwise usage arrives by the provider's own means). */
  streamOptions: boolean;
  /** `messages[].name` is rejected. */
  dropsMessageName: boolean;
  /** OpenAI reasoning models (o-series, gpt-5) want max_completion_tokens and reject sampling settings. */
  reasoningModelPattern?: RegExp;
  /**
   * The embeddings call accepts `encoding_format: base64` (OpenAI, Azure, vLLM…). When false, the gateway asks
   * for floats and encodes them itself for a caller that asked base64 (the openai SDKs' default).
   */
  embeddingsBase64: boolean;
  /** Embeddings body fields sent under another name: Mistral's `{ dimensions: 'output_dimension' }`. */
  embeddingsRenamed: Readonly<Record<string, string>>;
  /** Serves OpenAI's Responses API (`POST /responses`): `/v1/responses` requests pass through. */
  responsesApi: boolean;
}

export type UnsupportedFeature = 'logprobs' | 'n' | 'logit_bias' | 'tool_choice_named';

/** OpenAI's reasoning models, by upstream name. */
export const OPENAI_REASONING_MODELS = /^(o\d|gpt-5)/;

const OPENAI: OpenAIQuirks = {
  auth: 'bearer',
  url: 'standard',
  dropped: [],
  unsupported: [],
  renamed: {},
  streamOptions: true,
  dropsMessageName: false,
  embeddingsBase64: true,
  embeddingsRenamed: {},
  responsesApi: false,
};

/** A kind's quirks: OpenAI's behaviour with these differences. */
export function openAIQuirks(differences: Partial<OpenAIQuirks> = {}): OpenAIQuirks {
  return { ...OPENAI, ...differences };
}

/** Which of a provider's unsupported features this request uses, for the candidate filter's message. */
export function unsupportedFeatureUsed(
  quirks: OpenAIQuirks,
  body: { logprobs?: boolean; n?: number; logitBias?: unknown; toolChoice?: { type: string } },
): UnsupportedFeature | undefined {
  for (const feature of quirks.unsupported) {
    if (feature === 'logprobs' && body.logprobs === true) return feature;
    if (feature === 'n' && (body.n ?? 1) > 1) return feature;
    if (feature === 'logit_bias' && body.logitBias !== undefined) return feature;
    if (feature === 'tool_choice_named' && body.toolChoice?.type === 'tool') return feature;
  }
  return undefined;
}
