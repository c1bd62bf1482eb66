/**
 * A planned completion as a non-streaming `chat.completion` body, in the flavour's shape.
 *
 * @see https://platform.openai.com/docs/api-reference/chat/object
 */
import type { Flavour } from './flavours.ts';
import { pseudoRandom } from './flavours.ts';
import { type ChoicePlan, type CompletionPlan, tokenLogprobs } from './plan.ts';

/** Azure's "nothing filtered" annotation for four categories. */
export const AZURE_SAFE = {
  hate: { filtered: false, severity: 'safe' },
  self_harm: { filtered: false, severity: 'safe' },
  sexual: { filtered: false, severity: 'safe' },
  violence: { filtered: false, severity: 'safe' },
};

export const AZURE_PROMPT_FILTER_RESULTS = [
  { prompt_index: 0, content_filter_results: { ...AZURE_SAFE, jailbreak: { filtered: false, detected: false } } },
];

export function groqRequestId(plan: CompletionPlan): string {
  return `req_${pseudoRandom(plan.seq, 26, '0123456789abcdefghjkmnpqrstvwxyz')}`;
}

function renderMessage(choice: ChoicePlan, flavour: Flavour): Record<string, unknown> {
  const message: Record<string, unknown> = { role: 'assistant', content: choice.content };
  if (choice.toolCalls.length > 0) {
    message.tool_calls = choice.toolCalls.map((call) => ({
      id: call.id,
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    }));
  }
  if (flavour.openAIFields) {
    message.refusal = null;
    message.annotations = [];
  }
  return message;
}

export function renderCompletion(plan: CompletionPlan, flavour: Flavour): Record<string, unknown> {
  const choices = plan.choices.map((choice) => {
    const rendered: Record<string, unknown> = { index: choice.index, message: renderMessage(choice, flavour) };
    if (plan.topLogprobs !== null) {
      rendered.logprobs = { content: tokenLogprobs(choice.tokens, plan.topLogprobs), refusal: null };
    } else if (flavour.choiceLogprobs) rendered.logprobs = null;
    rendered.finish_reason = choice.finishReason;
    if (flavour.azureFilters) rendered.content_filter_results = choice.toolCalls.length > 0 ? {} : AZURE_SAFE;
    return rendered;
  });
  const body: Record<string, unknown> = {
    id: plan.id,
    object: 'chat.completion',
    created: plan.created,
    model: plan.model,
    choices,
    usage: flavour.usage(plan.usage),
  };
  if (flavour.serviceTier !== undefined) body.service_tier = flavour.serviceTier;
  if (flavour.systemFingerprint !== undefined) body.system_fingerprint = flavour.systemFingerprint;
  if (flavour.azureFilters) body.prompt_filter_results = AZURE_PROMPT_FILTER_RESULTS;
  if (flavour.xGroq) body.x_groq = { id: groqRequestId(plan) };
  return body;
}
