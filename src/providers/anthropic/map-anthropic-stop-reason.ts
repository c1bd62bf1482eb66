import type { FinishReason } from '../../core/ir.ts';

/**
 * Anthropic `stop_reason` → IR finish reason.
 * - `pause_turn` only happens with server tools (web search, code execution) that run a long turn on
 *   Anthropic's side; the turn is over for this response, so it is a plain `stop`.
 * - `model_context_window_exceeded` means generation stopped at the context limit: output was cut, `length`.
 * - `refusal` is the streaming classifiers stepping in: `content_filter`.
 * - Unknown future values are treated as a natural end rather than an error, since the content is complete.
 * @see https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons
 */
export function mapAnthropicStopReason(stopReason: unknown): FinishReason {
  switch (stopReason) {
    case 'end_turn':
    case 'stop_sequence':
    case 'pause_turn':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}
