import { GatewayError } from '../../core/errors.ts';
import type { FinishReason } from '../../core/ir.ts';

/**
 * Gemini `Candidate.finishReason` → IR finish reason.
 *
 * STOP ends naturally or at a stop sequence, and is also what Gemini says after function calls: with calls
 * in the candidate it becomes `tool_calls`, as OpenAI reports it. Every safety-type stop (the model's output
 * was withheld or cut by a filter) becomes `content_filter`. MAX_TOKENS and CONTINUATION (the per-request
 * limit was hit) become `length`. A stop for a reason Gemini does not explain (OTHER, unspecified, or a
 * value newer than this table) is treated as a natural stop.
 *
 * MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, TOO_MANY_TOOL_CALLS and MALFORMED_RESPONSE mean the model
 * produced no usable answer: there is no honest OpenAI finish reason for that, so the attempt fails with a
 * retryable error (another attempt usually succeeds) instead of handing the caller an empty success.
 * @see https://ai.google.dev/api/generate-content#FinishReason
 */

const TABLE: Record<string, FinishReason | 'malformed'> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  CONTINUATION: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  LANGUAGE: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  IMAGE_PROHIBITED_CONTENT: 'content_filter',
  IMAGE_RECITATION: 'content_filter',
  MALFORMED_FUNCTION_CALL: 'malformed',
  UNEXPECTED_TOOL_CALL: 'malformed',
  TOO_MANY_TOOL_CALLS: 'malformed',
  MALFORMED_RESPONSE: 'malformed',
  OTHER: 'stop',
  IMAGE_OTHER: 'stop',
  NO_IMAGE: 'stop',
  FINISH_REASON_UNSPECIFIED: 'stop',
};

/** Throws a retryable GatewayError for the malformed-output reasons. */
export function mapGeminiFinishReason(reason: string, hasToolCalls: boolean, label: string): FinishReason {
  const mapped = Object.hasOwn(TABLE, reason) ? TABLE[reason]! : 'stop';
  if (mapped === 'malformed') {
    throw new GatewayError('provider_unavailable', `Upstream ${label} produced an unusable answer (${reason})`);
  }
  if (mapped === 'stop' && hasToolCalls) return 'tool_calls';
  return mapped;
}
