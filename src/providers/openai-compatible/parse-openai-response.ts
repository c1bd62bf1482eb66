import { GatewayError } from '../../core/errors.ts';
import type { ChatResponse, Choice, StreamEvent, ToolCall } from '../../core/ir.ts';
import { emptyUsage } from '../../core/ir.ts';
import { fromOpenAIUsage } from './convert-openai-usage.ts';
import { fromOpenAIFinishReason } from './map-openai-finish-reason.ts';

/**
 * OpenAI-format responses and stream chunks → IR. Tolerant of the family's variations (reasoning under
 * `reasoning_content` or `reasoning`, usage under `x_groq.usage`), strict about shape: a body without
 * choices is upstream garbage and fails over.
 * @see https://platform.openai.com/docs/api-reference/chat/object
 */

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function usageOf(body: Json) {
  return fromOpenAIUsage(body['usage']) ?? fromOpenAIUsage(asObject(body['x_groq'])?.['usage']);
}

export function parseOpenAIResponse(body: Json, label: string): ChatResponse {
  const choices = body['choices'];
  if (!Array.isArray(choices)) {
    throw new GatewayError('provider_unavailable', `Upstream ${label} returned a response without choices`);
  }
  const response: ChatResponse = {
    id: str(body['id']) ?? '',
    created: typeof body['created'] === 'number' ? body['created'] : Math.floor(Date.now() / 1000),
    model: str(body['model']) ?? '',
    choices: choices.map((raw, position): Choice => {
      const choice = asObject(raw) ?? {};
      const message = asObject(choice['message']) ?? {};
      const toolCalls: ToolCall[] = [];
      for (const rawCall of Array.isArray(message['tool_calls']) ? message['tool_calls'] : []) {
        const call = asObject(rawCall);
        const fn = asObject(call?.['function']);
        if (!call || !fn) continue;
        toolCalls.push({
          id: str(call['id']) ?? '',
          name: str(fn['name']) ?? '',
          arguments: str(fn['arguments']) ?? '',
        });
      }
      const reasoning = str(message['reasoning_content']) ?? str(message['reasoning']);
      const result: Choice = {
        index: typeof choice['index'] === 'number' ? choice['index'] : position,
        message: { content: str(message['content']) ?? null },
        finishReason: fromOpenAIFinishReason(choice['finish_reason']),
      };
      if (toolCalls.length > 0) result.message.toolCalls = toolCalls;
      if (reasoning) result.message.reasoning = [{ text: reasoning }];
      if (typeof message['refusal'] === 'string') result.message.refusal = message['refusal'];
      if (choice['logprobs'] != null) result.logprobs = choice['logprobs'];
      return result;
    }),
    usage: usageOf(body) ?? emptyUsage(),
  };
  const fingerprint = str(body['system_fingerprint']);
  if (fingerprint) response.systemFingerprint = fingerprint;
  const tier = str(body['service_tier']);
  if (tier) response.serviceTier = tier;
  return response;
}

/** One stream chunk → IR events (the `start` event is the caller's to emit once). */
export function parseOpenAIChunk(chunk: Json, out: StreamEvent[]): void {
  const choices = Array.isArray(chunk['choices']) ? chunk['choices'] : [];
  for (const raw of choices) {
    const choice = asObject(raw);
    if (!choice) continue;
    const index = typeof choice['index'] === 'number' ? choice['index'] : 0;
    const delta = asObject(choice['delta']) ?? {};
    const reasoning = str(delta['reasoning_content']) ?? str(delta['reasoning']);
    if (reasoning) out.push({ type: 'reasoning', choice: index, delta: reasoning });
    const content = str(delta['content']);
    if (content) out.push({ type: 'text', choice: index, delta: content });
    const refusal = str(delta['refusal']);
    if (refusal) out.push({ type: 'refusal', choice: index, delta: refusal });
    if (Array.isArray(delta['tool_calls'])) {
      for (const rawCall of delta['tool_calls']) {
        const call = asObject(rawCall);
        if (!call) continue;
        const fn = asObject(call['function']) ?? {};
        const event: StreamEvent = {
          type: 'tool-call',
          choice: index,
          index: typeof call['index'] === 'number' ? call['index'] : 0,
          argumentsDelta: str(fn['arguments']) ?? '',
        };
        const id = str(call['id']);
        const name = str(fn['name']);
        if (id) event.id = id;
        if (name) event.name = name;
        out.push(event);
      }
    }
    if (choice['logprobs'] != null) out.push({ type: 'logprobs', choice: index, logprobs: choice['logprobs'] });
    if (choice['finish_reason'] != null) {
      out.push({ type: 'finish', choice: index, reason: fromOpenAIFinishReason(choice['finish_reason']) });
    }
  }
  const usage = usageOf(chunk);
  if (usage) out.push({ type: 'usage', usage });
}
