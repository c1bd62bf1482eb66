import type { FinishReason } from '../../core/ir.ts';

/**
 * Converse `stopReason` → IR finish reason.
 * - `model_context_window_exceeded` means generation ran into the context window: cut short, like `length`.
 * - `guardrail_intervened` and `content_filtered` are both content filtering.
 * - `malformed_model_output` and `malformed_tool_use` mean the output is unusable: the adapter turns them into
 *   a retryable error rather than hand a broken answer or tool call to the caller.
 * - Anything new is treated as a natural stop.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html#API_runtime_ConverseStream_ResponseSyntax
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_MessageStopEvent.html
 */
export type BedrockStopOutcome = FinishReason | 'malformed';

export function mapBedrockStopReason(stopReason: string | undefined): BedrockStopOutcome {
  switch (stopReason) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'tool_use':
      return 'tool_calls';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'content_filter';
    case 'malformed_model_output':
    case 'malformed_tool_use':
      return 'malformed';
    default:
      return 'stop';
  }
}

/** The stop sequence Anthropic models report when asked (`additionalModelResponseFieldPaths`). */
export function matchedStopSequence(fields: Record<string, unknown> | undefined): string | undefined {
  if (!fields) return undefined;
  const delta = fields['delta'];
  const nested = delta && typeof delta === 'object' ? (delta as Record<string, unknown>)['stop_sequence'] : undefined;
  const value = nested ?? fields['stop_sequence'];
  return typeof value === 'string' ? value : undefined;
}
