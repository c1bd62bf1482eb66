import type { StopReason } from '@anthropic-ai/sdk/resources/messages';
import type { FinishReason } from '../../core/ir.ts';

/**
 * IR finish reason → Anthropic `stop_reason`. `stop` is `stop_sequence` when the IR says which sequence
 * matched, else `end_turn`; `content_filter` is `refusal`. `error` (a stream cut by an upstream failure)
 * never reaches a finished message: the stream renders an `error` event instead.
 * @see https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons
 */
export function toAnthropicStopReason(reason: FinishReason, stopSequence?: string): StopReason {
  switch (reason) {
    case 'stop':
      return stopSequence !== undefined ? 'stop_sequence' : 'end_turn';
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    case 'error':
      return 'end_turn';
  }
}
