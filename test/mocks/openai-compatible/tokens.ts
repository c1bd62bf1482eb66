/**
 * The mock's own deterministic tokenizer. It is not a model tokenizer: it only has to be exact and cheap, so a
 * test can compute the usage the mock reports (and the gateway must pass on or meter) with the same functions.
 *
 * A token is a run of letters/digits/underscore or a single other character, with the whitespace before it.
 */
import type { ChatCompletionCreateParams } from 'openai/resources/chat/completions';

const TOKEN = /\s*[\p{L}\p{N}_]+|\s*[^\s\p{L}\p{N}_]|\s+/gu;

export function splitTokens(text: string): string[] {
  return text.match(TOKEN) ?? [];
}

export function countTokens(text: string): number {
  return splitTokens(text).length;
}

/** Per message 3 tokens of framing and 3 to prime the reply, like OpenAI's published counting recipe. */
const PER_MESSAGE = 3;
const REPLY_PRIMING = 3;
/** A fixed cost for each non-text content part (image, audio, file). */
const PER_MEDIA_PART = 85;

export function countPromptTokens(body: Pick<ChatCompletionCreateParams, 'messages' | 'tools'>): number {
  let total = REPLY_PRIMING;
  for (const message of body.messages ?? []) {
    total += PER_MESSAGE;
    if ('name' in message && typeof message.name === 'string') total += countTokens(message.name);
    const content = message.content;
    if (typeof content === 'string') total += countTokens(content);
    else if (Array.isArray(content)) {
      for (const part of content) {
        if (part.type === 'text') total += countTokens(part.text);
        else if (part.type === 'refusal') total += countTokens(part.refusal);
        else total += PER_MEDIA_PART;
      }
    }
    if (message.role === 'assistant' && message.tool_calls) {
      for (const call of message.tool_calls) {
        if (call.type === 'function') total += countTokens(call.function.name) + countTokens(call.function.arguments);
      }
    }
  }
  if (body.tools && body.tools.length > 0) total += countTokens(JSON.stringify(body.tools));
  return total;
}
