import type { ContentBlock, Message } from '@anthropic-ai/sdk/resources/messages';
import type { ChatResponse } from '../../core/ir.ts';
import { messageId, toolUseId } from './anthropic-ids.ts';
import { toAnthropicUsage } from './convert-usage.ts';
import { toAnthropicStopReason } from './map-finish-reason.ts';

/**
 * IR response → Anthropic Message. Only the first choice is rendered (an Anthropic request cannot ask for
 * more). Content order follows Anthropic's: thinking blocks, then text, then tool_use blocks.
 * - Reasoning without a signature (from providers that have none) is rendered with an empty signature;
 *   reasoning with opaque data becomes `redacted_thinking`.
 * - Tool-call arguments that are not a JSON object (a model's malformed output) render as `{}`: `input`
 *   must be an object.
 * - A refusal (`content_filter`) is `stop_reason: "refusal"` with the explanation in `stop_details`.
 * @see https://platform.claude.com/docs/en/api/messages (response)
 */

export function toolInput(argumentsText: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(argumentsText === '' ? '{}' : argumentsText);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

export function renderAnthropicResponse(response: ChatResponse, requestedModel?: string): Message {
  const choice = response.choices[0];
  const content: ContentBlock[] = [];
  const message = choice?.message;
  for (const reasoning of message?.reasoning ?? []) {
    if (reasoning.redactedData !== undefined) content.push({ type: 'redacted_thinking', data: reasoning.redactedData });
    else content.push({ type: 'thinking', thinking: reasoning.text, signature: reasoning.signature ?? '' });
  }
  if (message?.content) content.push({ type: 'text', text: message.content, citations: null });
  for (const call of message?.toolCalls ?? []) {
    content.push({
      type: 'tool_use',
      id: toolUseId(call.id),
      name: call.name,
      input: toolInput(call.arguments),
      caller: { type: 'direct' },
    });
  }
  const reason = choice?.finishReason ?? 'stop';
  const stopReason = toAnthropicStopReason(reason, choice?.stopSequence);
  return {
    id: messageId(response.id),
    type: 'message',
    role: 'assistant',
    model: response.model || requestedModel || '',
    content,
    stop_reason: stopReason,
    stop_sequence: stopReason === 'stop_sequence' ? (choice?.stopSequence ?? null) : null,
    stop_details:
      stopReason === 'refusal' ? { type: 'refusal', category: null, explanation: message?.refusal ?? null } : null,
    container: null,
    diagnostics: null,
    usage: toAnthropicUsage(response.usage, response.serviceTier),
  };
}
