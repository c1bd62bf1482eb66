import type { EmbeddingRequest, Usage } from '../core/ir.ts';
import type { TokenCounter } from '../tokens/token-counter.ts';
import { textTokens } from '../tokens/tokens.ts';

/** Usage of an embeddings call: input tokens only (embeddings generate nothing). */
export function inputUsage(inputTokens: number): Usage {
  return { inputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 0, reasoningTokens: 0 };
}

/**
 * The input's tokens when the upstream reported none: the caller's own token ids counted, or the texts
 * tokenized off the event loop within the budget (else estimated: tokens/tokens.ts).
 */
export async function estimateEmbeddingUsage(request: EmbeddingRequest, tokens: TokenCounter): Promise<Usage> {
  if (request.input.kind === 'tokens') return inputUsage(request.input.tokens.reduce((n, ids) => n + ids.length, 0));
  return inputUsage(await textTokens(tokens, request.input.texts));
}
