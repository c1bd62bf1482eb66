import type { ChatResponse, Choice } from '../../core/ir.ts';
import { toOpenAIUsage } from './convert-openai-usage.ts';
import { toOpenAIFinishReason } from './map-finish-reason.ts';

/**
 * IR response → OpenAI `chat.completion` object. Reasoning text, which OpenAI's chat API does not return,
 * goes into `reasoning_content` as DeepSeek and most OpenAI-compatible servers do.
 * @see https://platform.openai.com/docs/api-reference/chat/object
 */
export function renderOpenAIResponse(response: ChatResponse): Record<string, unknown> {
  const body: Record<string, unknown> = {
    id: response.id,
    object: 'chat.completion',
    created: response.created,
    model: response.model,
    choices: response.choices.map(renderChoice),
    usage: toOpenAIUsage(response.usage),
  };
  if (response.systemFingerprint !== undefined) body['system_fingerprint'] = response.systemFingerprint;
  const tier = openAIServiceTier(response.serviceTier);
  if (tier) body['service_tier'] = tier;
  return body;
}

function renderChoice(choice: Choice): Record<string, unknown> {
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: choice.message.content,
    refusal: choice.message.refusal ?? null,
  };
  if (choice.message.toolCalls && choice.message.toolCalls.length > 0) {
    message['tool_calls'] = choice.message.toolCalls.map((call) => ({
      id: call.id,
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    }));
  }
  const reasoning = choice.message.reasoning?.map((block) => block.text).join('');
  if (reasoning) message['reasoning_content'] = reasoning;
  return {
    index: choice.index,
    message,
    logprobs: choice.logprobs ?? null,
    finish_reason: toOpenAIFinishReason(choice.finishReason),
  };
}

/** Other providers' service tiers in OpenAI's vocabulary (Anthropic's `standard` is OpenAI's `default`). */
const OPENAI_SERVICE_TIERS = new Set(['auto', 'default', 'flex', 'scale', 'priority']);
function openAIServiceTier(tier: string | undefined): string | undefined {
  if (tier === undefined) return undefined;
  if (tier === 'standard') return 'default';
  return OPENAI_SERVICE_TIERS.has(tier) ? tier : undefined;
}
