/**
 * A planned completion as the `chat.completion.chunk` objects of a stream, split the way OpenAI splits them:
 * a first delta with the role, one delta per content token, for each tool call a delta with id, type, name and
 * empty arguments followed by argument fragments, then an empty delta with the finish reason per choice. With
 * n > 1 the choices' chunks interleave. Where usage goes depends on the flavour (see Flavour.streamUsage).
 *
 * @see https://platform.openai.com/docs/api-reference/chat-streaming/streaming
 * @see https://platform.openai.com/docs/guides/function-calling#streaming
 */
import type { ChatCompletionCreateParams } from 'openai/resources/chat/completions';
import { type Flavour, pseudoRandom } from './flavours.ts';
import { type ChoicePlan, type CompletionPlan, tokenLogprobs } from './plan.ts';
import { AZURE_PROMPT_FILTER_RESULTS, AZURE_SAFE, groqRequestId } from './render-body.ts';
import { splitTokens } from './tokens.ts';

type Json = Record<string, unknown>;

interface ChoiceStep {
  delta: Json;
  logprobs: Json | null;
  finishReason: string | null;
}

function choiceSteps(choice: ChoicePlan, flavour: Flavour, topLogprobs: number | null): ChoiceStep[] {
  const refusal = flavour.openAIFields ? { refusal: null } : {};
  const steps: ChoiceStep[] = [];
  const calls = choice.toolCalls.map((call, index) => ({
    header: { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } },
    fragments: splitTokens(call.arguments).map((piece) => ({ index, function: { arguments: piece } })),
  }));
  if (calls.length > 0) {
    const [first, ...rest] = calls;
    steps.push({
      delta: { role: 'assistant', content: null, tool_calls: [first!.header], ...refusal },
      logprobs: null,
      finishReason: null,
    });
    for (const fragment of first!.fragments)
      steps.push({ delta: { tool_calls: [fragment] }, logprobs: null, finishReason: null });
    for (const call of rest) {
      steps.push({ delta: { tool_calls: [call.header] }, logprobs: null, finishReason: null });
      for (const fragment of call.fragments)
        steps.push({ delta: { tool_calls: [fragment] }, logprobs: null, finishReason: null });
    }
  } else {
    steps.push({ delta: { role: 'assistant', content: '', ...refusal }, logprobs: null, finishReason: null });
    const logprobs = topLogprobs === null ? null : tokenLogprobs(choice.tokens, topLogprobs);
    choice.tokens.forEach((token, i) => {
      steps.push({
        delta: { content: token },
        logprobs: logprobs ? { content: [logprobs[i]], refusal: null } : null,
        finishReason: null,
      });
    });
  }
  steps.push({ delta: {}, logprobs: null, finishReason: choice.finishReason });
  return steps;
}

export function renderChunks(plan: CompletionPlan, flavour: Flavour, body: ChatCompletionCreateParams): Json[] {
  const streamOptions = body.stream_options ?? undefined;
  const carriesUsage =
    flavour.streamUsage === 'finish-chunk' ||
    (flavour.streamUsage === 'include-usage-chunk' && streamOptions?.include_usage === true);
  const obfuscate = flavour.openAIFields && streamOptions?.include_obfuscation !== false;
  const usage = flavour.usage(plan.usage);

  let count = 0;
  const chunk = (choices: Json[]): Json => {
    const out: Json = { id: plan.id, object: 'chat.completion.chunk', created: plan.created, model: plan.model };
    // Only OpenAI repeats service_tier on chunks (Groq sends it on bodies only).
    if (flavour.openAIFields && flavour.serviceTier !== undefined) out.service_tier = flavour.serviceTier;
    if (flavour.systemFingerprint !== undefined) out.system_fingerprint = flavour.systemFingerprint;
    out.choices = choices;
    if (carriesUsage && flavour.nullUsageOnChunks) out.usage = null;
    // Real obfuscation pads chunks to hide token lengths; here it only has to look the same.
    if (obfuscate) out.obfuscation = pseudoRandom(plan.seq * 4096 + count, 1 + ((count * 7) % 15));
    count++;
    return out;
  };

  const perChoice = plan.choices.map((choice) => choiceSteps(choice, flavour, plan.topLogprobs));
  const chunks: Json[] = [];
  const longest = Math.max(...perChoice.map((steps) => steps.length));
  for (let step = 0; step < longest; step++) {
    perChoice.forEach((steps, index) => {
      const s = steps[step];
      if (!s) return;
      const choice: Json = { index, delta: s.delta, logprobs: s.logprobs, finish_reason: s.finishReason };
      if (flavour.azureFilters) {
        choice.content_filter_results = 'content' in s.delta && s.delta.content ? AZURE_SAFE : {};
      }
      chunks.push(chunk([choice]));
    });
  }

  if (flavour.xGroq) {
    const requestId = groqRequestId(plan);
    chunks[0]!.x_groq = { id: requestId };
    chunks.at(-1)!.x_groq = { id: requestId, usage };
  }
  if (carriesUsage && flavour.streamUsage === 'finish-chunk') chunks.at(-1)!.usage = usage;
  if (carriesUsage && flavour.streamUsage === 'include-usage-chunk') chunks.push({ ...chunk([]), usage });
  if (flavour.azureFilters) {
    chunks.unshift({
      choices: [],
      created: 0,
      id: '',
      model: '',
      object: '',
      prompt_filter_results: AZURE_PROMPT_FILTER_RESULTS,
    });
  }
  return chunks;
}
