/**
 * Which model family a Bedrock model id belongs to. Converse is one API, but some fields are only accepted by
 * some families (Anthropic's thinking and top_k, cache points, tool result status), so the request builder asks.
 * Ids may carry a cross-region prefix (`us.`, `eu.`, `global.`) or be an ARN; an application inference profile
 * ARN names no model and counts as `other`.
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-supported-models-features.html
 */
export type BedrockModelFamily = 'anthropic' | 'nova' | 'mistral' | 'meta' | 'deepseek' | 'openai' | 'other';

const FAMILIES: Array<[RegExp, BedrockModelFamily]> = [
  [/(^|[.:/])anthropic\./, 'anthropic'],
  [/(^|[.:/])amazon\.nova/, 'nova'],
  [/(^|[.:/])mistral\./, 'mistral'],
  [/(^|[.:/])meta\./, 'meta'],
  [/(^|[.:/])deepseek\./, 'deepseek'],
  [/(^|[.:/])openai\./, 'openai'],
];

export function bedrockModelFamily(modelId: string): BedrockModelFamily {
  for (const [pattern, family] of FAMILIES) if (pattern.test(modelId)) return family;
  return 'other';
}

/** Families that accept `cachePoint` blocks (prompt caching). */
export function supportsCachePoints(family: BedrockModelFamily): boolean {
  return family === 'anthropic' || family === 'nova';
}
