import type { ChatRequest, ContentPart } from '../core/ir.ts';
import type { TokenCounter } from './token-counter.ts';

/**
 * Prompt and answer sizes in tokens, for context-window checks, count_tokens and metering. Exact counts come
 * from a real BPE tokenizer (gpt-tokenizer, o200k_base) in a worker thread, within a time budget
 * (token-counter.ts); each caller says what it uses when the count does not come in time:
 * - a check that needs a bound (the router's context windows) uses the byte count: a byte-level BPE never
 *   produces more tokens than the text has UTF-8 bytes, so a prompt whose byte count fits a window fits it for
 *   certain, and most requests never need the tokenizer at all;
 * - a figure shown or billed (count_tokens, usage estimated for cut streams and for answers without usage)
 *   uses an estimate of four bytes a token, OpenAI's rule of thumb for English (o200k_base averages 4.5 on
 *   this project's docs): a bound would bill up to four times the real count, while the estimate is close on
 *   prose and code, under by about a quarter on CJK, over on runs of one repeated character.
 */

/** Tokens added per message and per image by chat formats (OpenAI's published accounting, rounded up). */
const PER_MESSAGE_OVERHEAD = 4;
const PER_IMAGE_TOKENS = 1_600;
const BYTES_PER_ESTIMATED_TOKEN = 4;

function partText(part: ContentPart): string {
  return part.type === 'text' ? part.text : '';
}

/** Every text of the prompt: messages, tool calls and tool schemas. */
export function promptTexts(request: ChatRequest): string[] {
  const texts: string[] = [];
  for (const message of request.messages) {
    for (const part of message.content) texts.push(partText(part));
    if (message.role === 'assistant' && message.toolCalls) {
      for (const call of message.toolCalls) texts.push(call.name, call.arguments);
    }
  }
  if (request.tools) for (const tool of request.tools) texts.push(JSON.stringify(tool));
  if (request.responseFormat?.type === 'json_schema') texts.push(JSON.stringify(request.responseFormat.schema));
  return texts;
}

function fixedOverhead(request: ChatRequest): number {
  let images = 0;
  for (const message of request.messages) for (const part of message.content) if (part.type === 'image') images++;
  return request.messages.length * PER_MESSAGE_OVERHEAD + images * PER_IMAGE_TOKENS + 3;
}

function utf8Bytes(texts: readonly string[]): number {
  let bytes = 0;
  for (const text of texts) bytes += Buffer.byteLength(text, 'utf8');
  return bytes;
}

/** A cheap bound that is never below the real token count. */
export function promptTokenUpperBound(request: ChatRequest): number {
  return utf8Bytes(promptTexts(request)) + fixedOverhead(request);
}

/** Counts already asked for, so that a request's prompt is counted once (router tiers, count_tokens, meter). */
const promptCounts = new WeakMap<ChatRequest, Promise<number | undefined>>();

/** The prompt's exact count, or undefined when it did not come within the counter's budget. */
export function exactPromptTokens(counter: TokenCounter, request: ChatRequest): Promise<number | undefined> {
  let count = promptCounts.get(request);
  if (!count) {
    count = counter
      .count(promptTexts(request))
      .then((tokens) => (tokens === undefined ? undefined : tokens + fixedOverhead(request)));
    promptCounts.set(request, count);
  }
  return count;
}

/** The prompt's estimate (four bytes a token), without the tokenizer: cheap enough for admission. */
export function promptTokenEstimate(request: ChatRequest): number {
  return Math.ceil(utf8Bytes(promptTexts(request)) / BYTES_PER_ESTIMATED_TOKEN) + fixedOverhead(request);
}

/** The prompt's exact count within the budget, else its estimate. */
export async function promptTokens(counter: TokenCounter, request: ChatRequest): Promise<number> {
  const exact = await exactPromptTokens(counter, request);
  if (exact !== undefined) return exact;
  return promptTokenEstimate(request);
}

/** The texts' total exact count within the budget, else its estimate. */
export async function textTokens(counter: TokenCounter, texts: readonly string[]): Promise<number> {
  const exact = await counter.count(texts);
  if (exact !== undefined) return exact;
  let estimate = 0;
  for (const text of texts) estimate += Math.ceil(Buffer.byteLength(text, 'utf8') / BYTES_PER_ESTIMATED_TOKEN);
  return estimate;
}
