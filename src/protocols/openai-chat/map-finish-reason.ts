import type { FinishReason } from '../../core/ir.ts';

/** @see https://platform.openai.com/docs/api-reference/chat/object#chat/object-choices */
export function fromOpenAIFinishReason(reason: unknown): FinishReason {
  switch (reason) {
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/** OpenAI has no `error` finish reason; a choice cut by an error is reported as `stop` plus an error event. */
export function toOpenAIFinishReason(reason: FinishReason): 'stop' | 'length' | 'tool_calls' | 'content_filter' {
  return reason === 'error' ? 'stop' : reason;
}
