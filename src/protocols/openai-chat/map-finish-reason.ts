import type { FinishReason } from '../../core/ir.ts';

/** OpenAI has no `error` finish reason; a choice cut by an error is reported as `stop` plus an error event. */
export function toOpenAIFinishReason(reason: FinishReason): 'stop' | 'length' | 'tool_calls' | 'content_filter' {
  return reason === 'error' ? 'stop' : reason;
}
