import type { ChatRequest, ContentPart } from '../core/ir.ts';

/**
 * Prompt size for context-window checks. Exact counts come from a real BPE tokenizer (gpt-tokenizer,
 * o200k_base), but loading it costs ~130 ms and ~70 MB, so it is loaded only when a prompt is big enough
 * to matter: a byte-level BPE never produces more tokens than the text has UTF-8 bytes, so a prompt whose
 * byte count fits a window fits it for certain, and most requests never touch the tokenizer.
 */

/** Tokens added per message and per image by chat formats (OpenAI's published accounting, rounded up). */
const PER_MESSAGE_OVERHEAD = 4;
const PER_IMAGE_TOKENS = 1_600;

type Tokenizer = { countTokens(text: string): number };
let tokenizer: Promise<Tokenizer> | undefined;

function loadTokenizer(): Promise<Tokenizer> {
  tokenizer ??= import('gpt-tokenizer').then((module) => ({ countTokens: module.countTokens }));
  return tokenizer;
}

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

/** A cheap bound that is never below the real token count. */
export function promptTokenUpperBound(request: ChatRequest): number {
  let bytes = 0;
  for (const text of promptTexts(request)) bytes += Buffer.byteLength(text, 'utf8');
  return bytes + fixedOverhead(request);
}

/** The real count (loads the tokenizer on first use). */
export async function countPromptTokens(request: ChatRequest): Promise<number> {
  const { countTokens } = await loadTokenizer();
  let total = fixedOverhead(request);
  for (const text of promptTexts(request)) if (text) total += countTokens(text);
  return total;
}

export async function countTextTokens(text: string): Promise<number> {
  if (text === '') return 0;
  const { countTokens } = await loadTokenizer();
  return countTokens(text);
}
