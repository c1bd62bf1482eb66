import type { Usage } from '../../core/ir.ts';
import type { GeminiUsageMetadata } from './gemini-api-types.ts';

/**
 * Gemini `usageMetadata` → IR usage.
 *
 * - input = promptTokenCount (already includes cachedContentTokenCount) + toolUsePromptTokenCount (results
 *   of server-side tools, billed as input).
 * - cached input = cachedContentTokenCount (context-cache reads; implicit caching reports here too).
 * - cache write = 0: Gemini bills cache storage per hour out of band, never as tokens of a request.
 * - output = candidatesTokenCount + thoughtsTokenCount (Gemini counts thoughts apart from candidates; both
 *   are billed at the output rate), reasoning = thoughtsTokenCount.
 * The sum equals Gemini's own totalTokenCount.
 * @see https://ai.google.dev/api/generate-content#UsageMetadata
 */
export function convertGeminiUsage(metadata: GeminiUsageMetadata | undefined): Usage {
  const prompt = count(metadata?.promptTokenCount);
  const toolUse = count(metadata?.toolUsePromptTokenCount);
  const candidates = count(metadata?.candidatesTokenCount);
  const thoughts = count(metadata?.thoughtsTokenCount);
  return {
    inputTokens: prompt + toolUse,
    cachedInputTokens: Math.min(count(metadata?.cachedContentTokenCount), prompt),
    cacheWriteTokens: 0,
    outputTokens: candidates + thoughts,
    reasoningTokens: thoughts,
  };
}

/** Whether a chunk's metadata carries counts (Vertex sends metadata with only `trafficType` mid-stream). */
export function hasTokenCounts(metadata: GeminiUsageMetadata | undefined): boolean {
  return (
    metadata !== undefined &&
    (metadata.promptTokenCount !== undefined ||
      metadata.candidatesTokenCount !== undefined ||
      metadata.thoughtsTokenCount !== undefined)
  );
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
